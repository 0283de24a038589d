"""An existing aiohttp application that mounts devskyy_ws under /devskyy.

It keeps its own routes and its own startup work, and publishes its own events to the
dashboard channels from its handlers, through the same `hub.publish` the server uses.

    python examples/embed.py --port 8080 --data-dir ./shop-data
    curl -X POST localhost:8080/shop/orders -d '{"sku": "ROSE-RING"}'
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from devskyy_ws import HUB_KEY, Settings, create_app
from devskyy_ws.contract.messages import AgentStatusUpdate, TaskUpdate

ORDERS: web.AppKey[list[dict[str, object]]] = web.AppKey("orders", list)
DEVSKYY: web.AppKey[web.Application] = web.AppKey("devskyy", web.Application)


async def place_order(request: web.Request) -> web.Response:
    """The host's own endpoint; it tells the dashboard about the order as it happens."""
    order = await request.json()
    orders = request.app[ORDERS]
    orders.append(order)
    hub = request.app[DEVSKYY][HUB_KEY]
    order_id = f"order-{len(orders)}"
    delivered = await hub.publish(
        "tasks",
        TaskUpdate(
            task_id=order_id,
            status="running",
            progress=50.0,
            data={"agent_type": "commerce", "sku": order.get("sku")},
        ),
    )
    await hub.publish(
        "agents",
        AgentStatusUpdate(
            agent_id="shop-frontend",
            status="running",
            data={"agent_type": "commerce", "task_id": order_id},
        ),
    )
    return web.json_response({"order_id": order_id, "dashboards_notified": delivered}, status=201)


async def list_orders(request: web.Request) -> web.Response:
    return web.json_response(request.app[ORDERS])


async def warm_up(app: web.Application) -> AsyncIterator[None]:
    """The host's own startup and cleanup, beside devskyy_ws's."""
    logging.getLogger("shop").info("shop ready")
    yield
    logging.getLogger("shop").info("shop stopped")


def build(settings: Settings) -> web.Application:
    app = web.Application()
    app[ORDERS] = []
    app.router.add_post("/shop/orders", place_order)
    app.router.add_get("/shop/orders", list_orders)
    app.cleanup_ctx.append(warm_up)
    devskyy = create_app(settings)
    app.add_subapp("/devskyy", devskyy)
    app[DEVSKYY] = devskyy
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", default="shop-data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    web.run_app(
        build(Settings(data_dir=args.data_dir)),
        host="127.0.0.1",
        port=args.port,
        print=lambda _: logging.getLogger("shop").info("listening on %d", args.port),
    )


if __name__ == "__main__":
    main()
