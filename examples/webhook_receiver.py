"""A webhook receiver: an aiohttp server that accepts Voxtra's call events only when their
signature is the shared secret's and recent (a replayed request is refused).

    WEBHOOK_SECRET=... python examples/webhook_receiver.py    # listens on 127.0.0.1:8080

and give the app ``webhook_url=http://127.0.0.1:8080/hooks`` with the same secret.
"""

import json
import os

from aiohttp import web

from voxtra.webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify_signature

SECRET = web.AppKey("secret", str)
EVENTS = web.AppKey("events", list)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()  # the raw body: the signature covers its bytes
    try:
        verify_signature(body, request.headers.get(SIGNATURE_HEADER),
                         request.app[SECRET])
    except WebhookSignatureError as exc:
        return web.Response(status=401, text=str(exc))
    event = json.loads(body)
    request.app[EVENTS].append(event)
    print(event["type"], event["call_id"], event["data"], flush=True)
    return web.Response(status=204)


def make_receiver(secret: str) -> web.Application:
    app = web.Application()
    app[SECRET], app[EVENTS] = secret, []
    app.router.add_post("/hooks", receive)
    return app


if __name__ == "__main__":
    web.run_app(make_receiver(os.environ["WEBHOOK_SECRET"]), host="127.0.0.1", port=8080)
