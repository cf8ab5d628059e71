"""The role × route matrix of docs/SECURITY.md, generated from the app itself: every route's gate
(the ``require_<action>`` / ``require_login`` dependency it declares) crossed with
``permissions.POLICY``. ``python -m pipeline.workbench.matrix`` prints it; a test checks that the
document holds exactly what the code says, so the two can't drift apart.
"""

from __future__ import annotations

from typing import Any

from .db import ROLES
from .permissions import POLICY

PUBLIC, LOGIN, TOKEN = "public", "login", "token"
BEARER_ROUTES = ("/api/v1/inspect",)  # pipeline/workbench/api.py checks the bearer token inside the handler
# what a route checks beyond the role (the relation to the object), in the words of permissions.py / review.py
RELATION = {
    "/conversations/{conv_id}": "可见的会话(坐席:本人的;质检员:分配给自己、复核过或在队列中的)",
    "/conversations/{conv_id}/appeal": "本人作为坐席的会话,已复核",
    "/conversations/{conv_id}/dispute": "可见的会话,已复核",
    "/conversations/{conv_id}/reveal": "须填写理由,记入审计",
    "/conversations/{conv_id}/verdict": "分配给自己或在池中;第二轮须非第一轮复核人、非争议提出人",
    "/disputes/{dispute_id}/sign-off": "非本会话复核人、非争议提出人;先确认页",
    "/users/{user_id}/deactivate": "不能停用自己",
    "/api/v1/inspect": "Bearer 令牌(不用登录 Cookie)",
    "/calibration": "列表:质检员只看到自己参与的会话;新建:参与人须为至少 2 位在岗质检员",
    "/calibration/{session_id}": "主管/管理员,或该会话的参与人;全部提交(或主管结束)前不显示他人答案",
    "/calibration/{session_id}/items/{item_id}": "主管/管理员,或该会话的参与人;结果公开前只显示本人的判定",
    "/calibration/{session_id}/items/{item_id}/verdict": "本会话的参与人(质检员),会话进行中且本人未提交",
    "/calibration/{session_id}/items/{item_id}/answer": "本会话的参与人(质检员),会话进行中且本人未提交",
    "/calibration/{session_id}/submit": "本会话的参与人;每条机器发现均已判定",
    "/calibration/{session_id}/close": "会话进行中",
    "/calibration/{session_id}/gold": "全部提交或已结束;平票须逐项裁定",
    "/cases": "坐席:只列本人的差评;质检员无差评页面",
    "/cases/{case_id}": "可见的差评(坐席:本人的),否则 404;打开即标记提醒已读",
    "/cases/{case_id}/account": "本人作为坐席的差评,待情况说明",
    "/cases/{case_id}/note": "已有情况说明(待调查或调查中)",
    "/cases/{case_id}/contact": "已有情况说明,未回访",
    "/cases/{case_id}/responsibility": "调查中;至少一项责任,原因为五类之一",
    "/cases/{case_id}/measures": "已认定责任;负责人为在岗用户",
    "/cases/{case_id}/measures/{measure_id}/done": "措施负责人本人或主管/管理员;措施执行中",
    "/cases/{case_id}/follow-up": "措施全部完成",
    "/cases/{case_id}/close": "已回访",
    "/questions": "列表:全部问题(rules.yaml 的只读);添加:编号不得与已有问题重复,记入审计",
    "/questions/{question_id}/edit": "仅本工作台添加的问题;已有人选过的选项不能删除",
    "/questions/{key}/queue": "只列本人可见的会话(同队列)",
    "/conversations/{conv_id}/questions": "可见的会话;答案须为该问题的选项之一,记入审计",
}


def _gate(dependant: Any, path: str) -> str:
    """The route's gate: ``require_<action>`` → the action, ``require_login`` → login, the real-time
    API's bearer token → token, none → public."""
    for dep in dependant.dependencies:
        name = getattr(dep.call, "__name__", "")
        if name.startswith("require_") and name != "require_login":
            return name.removeprefix("require_")
        if name == "require_login":
            return LOGIN
        inner = _gate(dep, path)
        if inner != PUBLIC:
            return inner
    return TOKEN if path in BEARER_ROUTES else PUBLIC


def _api_routes(routes: list[Any]) -> list[Any]:
    """The APIRoutes, also those of included routers (FastAPI keeps them behind a wrapper)."""
    from fastapi.routing import APIRoute

    out = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            out += _api_routes(inner.routes)
    return out


def route_gates(app: Any) -> list[tuple[str, str, str]]:
    """(method, path, gate) for every route of ``app`` with a handler (static files left out)."""
    out = set()
    for route in _api_routes(app.routes):
        path = route.path.replace(":id}", "}")
        for method in route.methods - {"HEAD"}:
            out.add((method, path, _gate(route.dependant, path)))
    return sorted(out, key=lambda r: (r[1], r[0]))


def roles_for(gate: str) -> list[str]:
    if gate == TOKEN:
        return []  # no role: a bearer token, whoever holds it
    if gate == PUBLIC:
        return ["anonymous", *ROLES]
    if gate == LOGIN:
        return list(ROLES)
    return [r for r in ROLES if gate in POLICY.get(r, frozenset())]


def markdown_matrix(app: Any) -> str:
    """The table: one row per route, ✓ per role allowed, the gate and the extra relation checked."""
    columns = ["anonymous", *ROLES]
    lines = ["| method | path | gate | " + " | ".join(columns) + " | also checked |",
             "| --- | --- | --- | " + " | ".join(":-:" for _ in columns) + " | --- |"]
    for method, path, gate in route_gates(app):
        allowed = set(roles_for(gate))
        marks = " | ".join("✓" if c in allowed else "" for c in columns)
        lines.append(f"| {method} | `{path}` | {gate} | {marks} | {RELATION.get(path, '')} |")
    return "\n".join(lines) + "\n"


def policy_table() -> str:
    """Actions × roles straight from ``permissions.POLICY``."""
    from .permissions import ACTIONS

    lines = ["| action | " + " | ".join(ROLES) + " |", "| --- | " + " | ".join(":-:" for _ in ROLES) + " |"]
    for action in ACTIONS:
        lines.append(f"| {action} | " + " | ".join("✓" if action in POLICY[r] else "" for r in ROLES) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    import tempfile
    from pathlib import Path

    from ..config import load_config
    from .app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(overrides={"workbench": {"secret_key_file": str(Path(tmp) / "secret")}})
        app = create_app(config, f"sqlite:///{Path(tmp) / 'matrix.db'}")
        print(policy_table())
        print(markdown_matrix(app))
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
