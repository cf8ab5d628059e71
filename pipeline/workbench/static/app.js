// 质检工作台: the only script (CSP allows no inline script). "Select all" in the queue.
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("input.select-all")) {
    box.addEventListener("change", () => {
      for (const c of box.closest("form").querySelectorAll("input[name=conv_ids]")) c.checked = box.checked;
    });
  }
});
