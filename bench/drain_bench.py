"""Browser drain benchmark (`make bench-drain`): how fast a phone empties an outbox of 10,000 events.

A real Chromium signs in as the clerk on a gunicorn server (SQLite, the demo plant with
2,000 bins), the device registers, then 10,000 counts are put in its IndexedDB outbox in
one transaction (as if captured offline over days). The clock runs from "sync now" until
the outbox is empty; the server must then hold exactly those 10,000 events.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync_bench import prepare  # noqa: E402

from tests.live_server import LiveServer, free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SEED = """async ([n, codes]) => {
  const { openShopfloorDB } = await import("/static/js/offline/db.js");
  const { uuid7 } = await import("/static/js/offline/uuid7.js");
  const db = await openShopfloorDB();
  const tx = db.transaction(["meta", "outbox"], "readwrite");
  const meta = tx.objectStore("meta");
  const deviceId = await meta.get("device_id");
  const session = await meta.get("session");
  const user = JSON.parse(document.querySelector('meta[name="shopfloor-user"]').content);
  let seq = (await meta.get("next_seq")) ?? 1;
  const now = Date.now() - n;
  const writes = [];
  for (let i = 0; i < n; i++, seq++) {
    const code = codes[i % codes.length];
    writes.push(tx.objectStore("outbox").add({
      id: uuid7(now + i), device_id: deviceId, seq, type: "bin.counted", v: 2, occurred_at: now + i,
      actor_id: user?.id ?? session?.id ?? null, attachments: [], state: "pending",
      payload: { bin_code: code, quantity: 40, unit: "pcs" },
    }));
  }
  writes.push(meta.put(seq, "next_seq"));
  await Promise.all(writes);
  await tx.done;
  return deviceId;
}"""

DRAIN = """async () => {
  const { requestSync } = await import("/static/js/offline/sync.js");
  const { countUnsynced } = await import("/static/js/offline/outbox.js");
  const start = performance.now();
  let outcome = "";
  while ((await countUnsynced()) > 0) outcome = await requestSync("manual");
  const ms = performance.now() - start;
  const pushes = performance.getEntriesByType("resource").filter((e) => e.name.includes("/sync/push"));
  const inPush = pushes.filter((e) => e.startTime >= start).reduce((sum, e) => sum + e.duration, 0);
  return { ms, outcome, pushes: pushes.length, push_ms: inPush };
}"""


def run(events: int) -> dict:
    from playwright.sync_api import sync_playwright

    from webapp.domain.label_codes import mint

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        prepare(instance, None)  # migrations, the demo plant and 2,000 bins
        server = LiveServer(instance, free_port(), workers=2)
        server.start()
        codes = [mint(n) for n in range(1, 2001)]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(base_url=server.url)
                page.set_default_timeout(120_000)
                page.goto("/login")
                page.fill("input[name=username]", "clerk")
                page.fill("input[name=password]", "demo")
                page.click("button.primary")
                page.wait_for_url(lambda url: "/login" not in url)
                # The page registers the device on its first sync.
                page.wait_for_function("""async () => {
                    const { getMeta } = await import("/static/js/offline/db.js");
                    return Boolean(await getMeta("device_id")) && Boolean(await getMeta("last_sync_at"));
                }""")
                device_id = page.evaluate(SEED, [events, codes])
                if os.environ.get("DRAIN_PROFILE"):
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Profiler.enable")
                    cdp.send("Profiler.start")
                result = page.evaluate(DRAIN)
                if os.environ.get("DRAIN_PROFILE"):
                    profile = cdp.send("Profiler.stop")["profile"]
                    Path(os.environ["DRAIN_PROFILE"]).write_text(json.dumps(profile))
                browser.close()
            with sqlite3.connect(instance / "shopfloor.sqlite3") as conn:
                query = "SELECT count(*) FROM sync_events WHERE device_id = ?"
                stored = conn.execute(query, (device_id,)).fetchone()[0]
            return {"events": events, "seconds": round(result["ms"] / 1000, 2),
                    "events_per_s": round(events / (result["ms"] / 1000)), "outcome": result["outcome"],
                    "waiting_on_server_s": round(result["push_ms"] / 1000, 2),
                    "stored_on_server": stored}
        finally:
            server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    print("drain:", run(args.events), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
