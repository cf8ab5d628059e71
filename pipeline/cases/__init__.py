"""Bad reviews handled as cases (差评处理, issue 19; seed 004 客服差评制度规范).

``reason``    the machine's suggested reason class (服务态度 / 专业能力 / 响应速度 / 问题解决效果 / 其他) with
              its evidence — a transparent table from seed 004's 判定标准, not fitted to labels
``evaluate``  ``zhijian cases evaluate-reasons``: the suggestion against people's labels (accuracy, κ, confusion)
``service``   cases in the workbench database: opening (load, import, API), the workflow with deadlines, notices
``notify``    the webhook (JSON POST signed with HMAC-SHA256, retried with backoff, every attempt logged)
``cli``       ``zhijian cases list | export | import | evaluate-reasons``
"""
