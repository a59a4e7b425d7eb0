// @ts-check
/**
 * A stocktake's counting screen (<div data-stocktake="ID">), loaded only on that page (app.js).
 *
 * The camera stays on. Each bin read (by the camera, typed into the code field, or from a
 * keyboard-wedge scanner) asks its pieces on the big numeric field, and reading pauses until the
 * count is saved or dropped ("Not this bin"). Save records a `bin.counted` naming the stocktake in
 * this device's outbox, so it works offline and syncs like any count; then the next bin.
 *
 * Progress (bins on the list counted, of how many) is worked out on the device from two sources:
 * what the server rendered into the page (the list of bins expected, and the counts it had then,
 * in <script data-stocktake-data>) and this device's own counts of this stocktake in its database
 * (the outbox, and the sent records it keeps for 14 days). The service worker keeps the page as it
 * was last served, so a reload without a connection shows the same list, and the device's own
 * counts bring the progress up to date. Other devices' counts show once the page is loaded again
 * online.
 *
 * Closing is a `stocktake.closed` in the outbox too, so it always follows this device's counts;
 * once the server has stored it, the page reloads into the report.
 *
 * States for people and tests: data-camera-state (off | starting | scanning | problem),
 * data-asking (the bin whose pieces are asked), data-done, data-complete, data-closing.
 */
import { t } from "../i18n.js";
import { onChange, openShopfloorDB } from "../offline/db.js";
import { saveEvent } from "../offline/outbox.js";
import * as feedback from "../scan/feedback.js";
import { BOX, FrameReader } from "../scan/reader.js";
import { messageFor, readHere, SCAN_EVENT } from "../scan/route.js";

/**
 * What the server rendered into the page.
 * @typedef {{stocktake_id: string, expected: string[], counted: Record<string, number>, strings: Record<string, string>}} PageData
 */

/** @param {Element} root */
export function attach(root) {
  if (root instanceof HTMLElement) new StocktakeScreen(root).begin();
}

/**
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {T}
 */
function one(root, selector) {
  return /** @type {T} */ (root.querySelector(selector));
}

/**
 * This device's records of one stocktake: its counts (the last of each bin by seq) and its close.
 * Counts the server kept in quarantine are not counts of the stocktake.
 * @param {string} stocktakeId
 */
export async function onDevice(stocktakeId) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["outbox", "sent"]);
  const [pending, sent] = await Promise.all([tx.objectStore("outbox").getAll(), tx.objectStore("sent").getAll()]);
  await tx.done;
  /** @type {import("../offline/outbox.js").OutboxRecord[]} */
  const mine = [...sent, ...pending]
    .filter((record) => record.payload?.stocktake_id === stocktakeId && record.result?.status !== "quarantined")
    .sort((a, b) => a.seq - b.seq);
  /** @type {Map<string, number>} */
  const counts = new Map();
  /** @type {import("../offline/outbox.js").OutboxRecord | null} */
  let close = null;
  for (const record of mine) {
    if (record.type === "bin.counted") counts.set(String(record.payload.bin_code), Number(record.payload.quantity));
    else if (record.type === "stocktake.closed") close ??= record;
  }
  return { counts, close };
}

class StocktakeScreen {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    /** @type {PageData} */
    const data = JSON.parse(root.querySelector("script[data-stocktake-data]")?.textContent || "{}");
    this.id = data.stocktake_id ?? root.dataset.stocktake ?? "";
    this.strings = data.strings ?? {};
    this.expected = new Set(data.expected ?? []);
    /** @type {Map<string, number>} the last count of each bin: the server's, then this device's */
    this.counted = new Map(Object.entries(data.counted ?? {}));
    this.video = /** @type {HTMLVideoElement} */ (one(root, "[data-camera-video]"));
    this.view = /** @type {HTMLElement} */ (one(root, "[data-camera]"));
    this.status = /** @type {HTMLElement} */ (one(root, "[data-camera-status]"));
    this.message = /** @type {HTMLElement} */ (one(root, "[data-scan-message]"));
    this.form = /** @type {HTMLFormElement} */ (one(root, "form[data-stocktake-count]"));
    this.code = /** @type {HTMLInputElement} */ (this.form.elements.namedItem("bin_code"));
    this.quantity = /** @type {HTMLInputElement} */ (this.form.elements.namedItem("quantity"));
    this.note = /** @type {HTMLElement} */ (one(root, "[data-asking-note]"));
    this.cancel = /** @type {HTMLButtonElement} */ (one(root, "[data-asking-cancel]"));
    this.saveStatus = /** @type {HTMLElement} */ (one(this.form, "[data-save-status]"));
    this.closeForm = /** @type {HTMLFormElement} */ (one(root, "form[data-stocktake-close]"));
    this.closeStatus = /** @type {HTMLElement} */ (one(root, "[data-close-status]"));
    this.reader = new FrameReader(this.video, (text) => this.take(text));
    this.asking = "";
    this.saving = false;
    this.confirmingClose = false;
    /** @type {string} the id of this device's stocktake.closed record, once saved */
    this.closeId = "";
    this.lastMessage = "";
    // Scans from wedge scanners and other inputs come here while the screen is open.
    this.onScan = (/** @type {Event} */ event) => {
      if (!this.root.isConnected) return this.teardown();
      event.preventDefault();
      this.take(/** @type {CustomEvent} */ (event).detail.text);
    };
    this.onVisibility = () => (document.hidden ? this.reader.stop() : this.startCamera());
    this.onPageHide = () => this.reader.stop();
    this.onPageShow = (/** @type {PageTransitionEvent} */ event) => event.persisted && this.startCamera();
    /** @type {() => void} */
    this.stopListening = () => {};
  }

  /** Bind the page, bring in this device's counts, start the camera. */
  begin() {
    feedback.unlockOnFirstGesture();
    this.form.noValidate = true; // checked here, in the person's language (without JavaScript: the browser)
    this.form.addEventListener("submit", (event) => this.save(event), true);
    this.closeForm.addEventListener("submit", (event) => this.close(event), true);
    this.cancel.addEventListener("click", () => this.stopAsking());
    this.quantity.addEventListener("input", () => this.quantity.setCustomValidity(""));
    this.code.addEventListener("input", () => this.code.setCustomValidity(""));
    for (const button of this.root.querySelectorAll("[data-camera-retry]")) {
      button.addEventListener("click", () => this.startCamera());
    }
    for (const button of this.root.querySelectorAll("[data-count-again]")) {
      button.addEventListener("click", () => this.ask(button.closest("li")?.getAttribute("data-bin") ?? ""));
    }
    this.video.addEventListener("loadedmetadata", () => this.fitView());
    this.video.addEventListener("resize", () => this.fitView());
    document.addEventListener(SCAN_EVENT, this.onScan);
    document.addEventListener("visibilitychange", this.onVisibility);
    window.addEventListener("pagehide", this.onPageHide);
    window.addEventListener("pageshow", this.onPageShow);
    this.stopListening = onChange((change, remote) => this.heard(change, remote));
    this.render();
    this.loadOwn().then(() => this.startCamera());
  }

  /** Bring this device's own counts (and a close it saved) into the progress. */
  async loadOwn() {
    try {
      const { counts, close } = await onDevice(this.id);
      for (const [code, quantity] of counts) this.counted.set(code, quantity);
      // From the database, never a reload: offline, the worker's copy of this page is older than the close.
      if (close) this.closing(close.id, close.result?.status ?? "pending", false);
    } catch (error) {
      console.warn("shopfloor: stocktake records on this device", error);
    }
    this.render();
  }

  /**
   * @param {import("../offline/db.js").Change} change
   * @param {boolean} remote
   */
  heard(change, remote) {
    if (!this.root.isConnected) return this.teardown();
    if (remote && change.type === "saved") this.loadOwn(); // another tab counted
    if (change.type !== "results") return;
    /** @type {import("../offline/outbox.js").PushResult[]} */
    const results = change.results;
    const closed = results.find((r) => r.id === this.closeId);
    if (this.closeId && closed) return this.closing(this.closeId, closed.status, true);
    const late = results.some((r) =>
      r.exceptions?.some((e) => e.code === "stocktake_closed" && e.stocktake_id === this.id),
    );
    if (late) this.closedElsewhere();
  }

  /** The server says another device closed the stocktake: counting here ends; the report is one tap away. */
  closedElsewhere() {
    if (this.closeId) return;
    this.closeId = "elsewhere";
    this.root.dataset.closing = "elsewhere";
    this.reader.close();
    this.view.hidden = true;
    this.setState("off", "");
    for (const el of this.form.elements) /** @type {HTMLInputElement} */ (el).disabled = true;
    for (const el of this.closeForm.elements) /** @type {HTMLInputElement} */ (el).disabled = true;
    this.say(this.text("closed_elsewhere"), "closed");
    const open = document.createElement("a");
    open.className = "btn primary";
    open.href = location.pathname;
    open.textContent = this.text("open_report");
    this.message.append(" ", open);
  }

  async startCamera() {
    if (this.closeId || document.hidden || !this.root.isConnected) return;
    this.showProblem("");
    this.setState("starting", t("camera_starting"));
    const problem = await this.reader.start();
    if (problem) return this.showProblem(problem);
    if (!this.reader.camera) return; // stopped meanwhile (hidden, closed)
    this.view.hidden = false;
    this.fitView();
    this.setState("scanning", this.asking ? this.askText(this.asking) : t("camera_aim"));
  }

  /**
   * A bin's code or label URL from the camera, a wedge scanner or the code field.
   * @param {string} text
   */
  take(text) {
    if (this.closeId || this.asking || this.saving) return; // one bin at a time
    const scan = readHere(text);
    if (scan.kind !== "bin") return this.say(messageFor(scan), "refused");
    if (this.counted.has(scan.code)) {
      const n = String(this.counted.get(scan.code));
      return this.say(this.text("counted_already", { code: scan.code, n }), "counted");
    }
    this.ask(scan.code);
  }

  /**
   * Ask the pieces of one bin: its code in the code field, the big field focused, reading paused.
   * @param {string} code
   */
  ask(code) {
    if (!code || this.closeId) return;
    this.asking = code;
    this.root.dataset.asking = code;
    this.reader.pause(true);
    this.message.hidden = true;
    this.lastMessage = "";
    this.code.value = code;
    this.code.setCustomValidity("");
    this.quantity.value = "";
    this.note.textContent = this.text(this.expected.has(code) ? "on_list" : "not_on_list");
    this.note.dataset.expected = String(this.expected.has(code));
    this.note.hidden = false;
    this.cancel.hidden = false;
    this.setStatus("", "");
    if (this.root.dataset.cameraState === "scanning") this.setState("scanning", this.askText(code));
    feedback.success();
    this.quantity.focus();
  }

  /** @param {string} code */
  askText(code) {
    return this.text("how_many", { code });
  }

  /** Drop the bin being asked (or the one just saved): reading goes on. */
  stopAsking() {
    this.asking = "";
    delete this.root.dataset.asking;
    this.code.value = "";
    this.quantity.value = "";
    this.note.hidden = true;
    this.cancel.hidden = true;
    if (document.activeElement instanceof HTMLElement && this.form.contains(document.activeElement)) {
      document.activeElement.blur(); // a wedge scanner's next burst is a scan, not typing
    }
    if (this.root.dataset.cameraState === "scanning") this.setState("scanning", t("camera_aim"));
    this.reader.pause(false);
  }

  /**
   * Save the count on this device (the form's action is the no-JavaScript path). A code typed
   * without pieces yet is a bin to ask about.
   * @param {SubmitEvent} event
   */
  async save(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
    if (this.saving || this.closeId) return;
    const scan = readHere(this.code.value);
    if (scan.kind !== "bin") {
      this.code.setCustomValidity(this.code.value.trim() ? messageFor(scan) : "");
      this.code.reportValidity();
      return;
    }
    if (!this.quantity.value.trim() && this.asking !== scan.code) return this.ask(scan.code);
    this.quantity.setCustomValidity("");
    if (!this.quantity.checkValidity()) {
      this.quantity.setCustomValidity(t("invalid_quantity"));
      this.quantity.reportValidity();
      return;
    }
    const quantity = Number.parseInt(this.quantity.value, 10);
    this.saving = true;
    this.setStatus("working", t("saving"));
    try {
      await saveEvent("bin.counted", 2, { bin_code: scan.code, quantity, unit: "pcs", stocktake_id: this.id });
      this.counted.set(scan.code, quantity);
      this.setStatus("saved", this.text("saved_count", { code: scan.code, n: String(quantity) }));
      this.stopAsking();
      this.render();
    } catch (error) {
      this.setStatus("error", error instanceof Error ? error.message : String(error));
    } finally {
      this.saving = false;
    }
  }

  /**
   * Close the stocktake: a second tap confirms; the close is saved in the outbox after this device's counts.
   * @param {SubmitEvent} event
   */
  async close(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
    if (this.closeId) return;
    if (!this.confirmingClose) {
      this.confirmingClose = true;
      this.closeForm.dataset.confirm = "";
      this.closeStatus.textContent = this.text("close_confirm");
      this.closeStatus.dataset.state = "working";
      return;
    }
    try {
      const record = await saveEvent("stocktake.closed", 1, { stocktake_id: this.id });
      this.closing(record.id, "pending", true);
    } catch (error) {
      this.closeStatus.textContent = error instanceof Error ? error.message : String(error);
      this.closeStatus.dataset.state = "error";
    }
  }

  /**
   * This device closed the stocktake: counting ends here; once the server has the close, the report.
   * @param {string} id
   * @param {string} status the push result (pending until there is one)
   * @param {boolean} live the server just answered (or the close was just saved): reload into the report
   */
  closing(id, status, live) {
    this.closeId = id;
    this.root.dataset.closing = status;
    this.reader.close();
    this.view.hidden = true;
    this.setState("off", "");
    for (const el of this.form.elements) /** @type {HTMLInputElement} */ (el).disabled = true;
    for (const el of this.closeForm.elements) /** @type {HTMLInputElement} */ (el).disabled = true;
    const stored = status === "stored" || status === "duplicate";
    if (stored && live) {
      location.reload(); // the server renders the report now
      return;
    }
    const kept = status === "quarantined";
    this.closeStatus.textContent = this.text(kept ? "close_kept" : stored ? "closed_on_server" : "closing_saved");
    this.closeStatus.dataset.state = kept ? "quarantined" : stored ? "synced" : "saved";
  }

  /** Show the progress and each bin's state. */
  render() {
    let done = 0;
    for (const code of this.counted.keys()) if (this.expected.has(code)) done++;
    const unexpected = this.counted.size - done;
    one(this.root, "[data-progress-done]").textContent = String(done);
    const bar = /** @type {HTMLProgressElement} */ (one(this.root, "[data-progress-bar]"));
    bar.value = done;
    one(this.root, "[data-progress-unexpected]").textContent = String(unexpected);
    /** @type {HTMLElement} */ (one(this.root, "[data-progress-extra]")).hidden = unexpected === 0;
    /** @type {HTMLElement} */ (one(this.root, "[data-unexpected-section]")).hidden = unexpected === 0;
    this.root.dataset.done = String(done);
    this.root.dataset.complete = String(done >= this.expected.size);
    for (const item of this.root.querySelectorAll("[data-stocktake-bins] li[data-bin]")) {
      this.renderBin(item, item.getAttribute("data-bin") ?? "");
    }
    const extra = one(this.root, "[data-stocktake-unexpected]");
    const listed = new Set([...extra.querySelectorAll("li[data-bin]")].map((li) => li.getAttribute("data-bin")));
    for (const code of this.counted.keys()) {
      if (this.expected.has(code) || listed.has(code)) continue;
      const item = document.createElement("li");
      item.setAttribute("data-bin", code);
      const name = document.createElement("span");
      name.className = "code";
      name.textContent = code;
      const counted = document.createElement("span");
      counted.setAttribute("data-bin-counted", "");
      item.append(name, " ", counted);
      extra.append(item);
    }
    for (const item of extra.querySelectorAll("li[data-bin]")) this.renderBin(item, item.getAttribute("data-bin") ?? "");
  }

  /**
   * @param {Element} item
   * @param {string} code
   */
  renderBin(item, code) {
    const quantity = this.counted.get(code);
    item.setAttribute("data-state", quantity === undefined ? "waiting" : "counted");
    const text = item.querySelector("[data-bin-counted]");
    if (text) text.textContent = quantity === undefined ? this.text("not_counted") : t("n_pieces", { n: quantity });
    const again = /** @type {HTMLElement | null} */ (item.querySelector("[data-count-again]"));
    if (again) again.hidden = quantity === undefined || Boolean(this.closeId);
  }

  /**
   * Say something about a scan (refused, or counted already); buzz once per new message.
   * @param {string} text
   * @param {string} kind
   */
  say(text, kind) {
    if (text !== this.lastMessage) feedback.refusal();
    this.lastMessage = text;
    this.message.textContent = text;
    this.message.dataset.kind = kind;
    this.message.hidden = false;
  }

  /**
   * One of this screen's strings, with its {placeholders} filled.
   * @param {string} key
   * @param {Record<string, string>} [vars]
   */
  text(key, vars = {}) {
    const found = this.strings[key] ?? key;
    return found.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? vars[name] : whole));
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  setState(state, text) {
    this.root.dataset.cameraState = state;
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  setStatus(state, text) {
    this.saveStatus.textContent = text;
    this.saveStatus.setAttribute("data-state", state);
  }

  /**
   * Show why the camera cannot read (none for ""); typing and scanners still work.
   * @param {string} kind
   */
  showProblem(kind) {
    for (const el of this.root.querySelectorAll("[data-camera-problem]")) {
      /** @type {HTMLElement} */ (el).hidden = el.getAttribute("data-camera-problem") !== kind;
    }
    if (!kind) return;
    this.view.hidden = true;
    this.setState("problem", "");
    this.root.dataset.problem = kind;
  }

  /** Size the view to the video's shape and the framing box to the part of the frame read first. */
  fitView() {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return;
    const side = BOX * Math.min(width, height);
    this.view.style.setProperty("--camera-aspect", String(width / height));
    this.view.style.setProperty("--box-w", String(side / width));
    this.view.style.setProperty("--box-h", String(side / height));
  }

  /** The screen left the page: let go of everything. */
  teardown() {
    this.reader.close();
    this.stopListening();
    document.removeEventListener(SCAN_EVENT, this.onScan);
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.removeEventListener("pagehide", this.onPageHide);
    window.removeEventListener("pageshow", this.onPageShow);
  }
}
