// @ts-check
/**
 * The scan screen (<section data-scan-screen>): the live camera with a framing box, the torch
 * where the camera has one, a beep and a buzz on success, and continuous mode for stocktakes
 * (each bin scanned is added to a list with "Open" and "Count" instead of being opened).
 *
 * Frames go to the decoder worker one at a time (the next frame is taken only once the last
 * one is answered), cropped to the framing box with the whole frame as a fallback. Scans from a
 * keyboard-wedge scanner or the code field come here too while the screen is open.
 * When the camera cannot start, the screen says why and how to fix it; typing the code works
 * regardless. States for people and tests: data-camera-state = off | starting | scanning |
 * problem, data-decoder = native | zxing.
 */
import { t } from "../i18n.js";
import { getBin } from "../offline/pull.js";
import { Camera, cameraUnavailable, problemOf } from "../scan/camera.js";
import { Decoder } from "../scan/decoder.js";
import * as feedback from "../scan/feedback.js";
import { binUrl, messageFor, readHere, SCAN_EVENT } from "../scan/route.js";

export const selector = "[data-scan-screen]";

/** The framing box: a square this share of the frame's shorter side, in the middle. */
const BOX = 0.7;
/** Every this many frames, the whole frame is read too (when the box held nothing). */
const FULL_EVERY = 3;
const LIST_KEY = "shopfloor-scan-list";
const CONTINUOUS_KEY = "shopfloor-scan-continuous";

/** @param {Element} root */
export function attach(root) {
  if (root instanceof HTMLElement) new ScanScreen(root).start();
}

/**
 * @param {ParentNode} root
 * @param {string} selector
 */
function one(root, selector) {
  return /** @type {HTMLElement} */ (root.querySelector(selector));
}

class ScanScreen {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.video = /** @type {HTMLVideoElement} */ (one(root, "[data-camera-video]"));
    this.view = one(root, "[data-camera]");
    this.controls = one(root, "[data-camera-controls]");
    this.torch = /** @type {HTMLButtonElement} */ (one(root, "[data-torch]"));
    this.continuous = /** @type {HTMLInputElement} */ (one(root, "[data-continuous]"));
    this.status = one(root, "[data-camera-status]");
    this.message = one(root, "[data-scan-message]");
    this.list = one(root, "[data-scan-list]");
    this.items = one(root, "[data-scan-items]");
    /** @type {Camera | null} */
    this.camera = null;
    /** @type {Decoder | null} */
    this.decoder = null;
    this.starting = false;
    this.scanning = false;
    this.busy = false; // a frame is with the decoder
    this.frames = 0;
    this.round = 0; // each camera start's frame loop has its number: a stopped loop never comes back
    this.lastRefusal = "";

    feedback.unlockOnFirstGesture();
    this.continuous.checked = sessionStorage.getItem(CONTINUOUS_KEY) === "1";
    this.continuous.addEventListener("change", () => {
      sessionStorage.setItem(CONTINUOUS_KEY, this.continuous.checked ? "1" : "0");
      this.renderList();
    });
    this.torch.addEventListener("click", () => this.toggleTorch());
    for (const button of root.querySelectorAll("[data-camera-retry]")) {
      button.addEventListener("click", () => this.start());
    }
    one(root, "[data-scan-clear]").addEventListener("click", () => {
      this.saveList([]);
      this.renderList();
    });
    this.video.addEventListener("resize", () => this.fitView());
    this.video.addEventListener("loadedmetadata", () => this.fitView());

    this.onScan = (/** @type {Event} */ event) => {
      if (!this.root.isConnected) return this.teardown();
      event.preventDefault(); // taken: wedge and typed scans land here while the screen is open
      this.handle(/** @type {CustomEvent} */ (event).detail.text);
    };
    this.onVisibility = () => (document.hidden ? this.stopCamera() : this.start());
    this.onPageHide = () => this.stopCamera();
    this.onPageShow = (/** @type {PageTransitionEvent} */ event) => event.persisted && this.start();
    document.addEventListener(SCAN_EVENT, this.onScan);
    document.addEventListener("visibilitychange", this.onVisibility);
    window.addEventListener("pagehide", this.onPageHide);
    window.addEventListener("pageshow", this.onPageShow);
    this.watchPermission();
    this.renderList();
  }

  /** Start the camera and the decoder, or say why they cannot start. */
  async start() {
    if (this.starting || this.camera || document.hidden || !this.root.isConnected) return;
    const unavailable = cameraUnavailable();
    if (unavailable) return this.showProblem(unavailable);
    this.starting = true;
    this.showProblem("");
    this.setState("starting", t("camera_starting"));
    this.decoder ??= new Decoder();
    try {
      const camera = await Camera.open(this.video);
      if (document.hidden || !this.root.isConnected) {
        camera.stop(); // left the page while the camera was starting
        return;
      }
      this.camera = camera;
      this.view.hidden = false;
      this.controls.hidden = false;
      this.torch.hidden = !camera.hasTorch();
      this.torch.setAttribute("aria-pressed", "false"); // a new start: the light is off
      this.fitView();
    } catch (error) {
      console.warn("shopfloor: camera", error);
      this.decoder.close(); // nothing to decode: typing and wedge scanners need no decoder
      this.decoder = null;
      return this.showProblem(problemOf(error));
    } finally {
      this.starting = false;
    }
    try {
      const { engine } = await this.decoder.ready;
      this.root.dataset.decoder = engine;
    } catch (error) {
      console.warn("shopfloor: QR decoder", error);
      this.stopCamera();
      return this.showProblem("decoder");
    }
    if (!this.camera) return; // stopped meanwhile
    this.setState("scanning", t("camera_aim"));
    this.scanning = true;
    this.watchFrames();
  }

  /** Take frames as the video presents them, handing one at a time to the decoder. */
  watchFrames() {
    const video = this.video;
    const round = ++this.round;
    let first = true;
    const next = () => {
      if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(tick);
      else requestAnimationFrame(tick);
    };
    const tick = () => {
      if (!this.scanning || round !== this.round) return;
      if (!this.root.isConnected) return this.teardown();
      if (first) performance.mark("shopfloor:camera-first-frame");
      first = false;
      next();
      if (!this.busy) this.readFrame();
    };
    next();
  }

  /** Send the current frame to the decoder; act on what it reads. */
  async readFrame() {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height || !this.decoder) return;
    this.busy = true;
    try {
      const side = Math.round(BOX * Math.min(width, height));
      const box = { x: Math.round((width - side) / 2), y: Math.round((height - side) / 2), width: side, height: side };
      // Mostly the framing box alone (a third of the pixels: quick even at 720p on a slow phone);
      // every third frame the whole frame too, for a label held off-centre.
      const whole = this.frames++ % FULL_EVERY === FULL_EVERY - 1;
      const bitmap = whole
        ? await createImageBitmap(this.video)
        : await createImageBitmap(this.video, box.x, box.y, box.width, box.height);
      const texts = await this.decoder.decode(bitmap, whole ? box : null, whole);
      if (this.scanning && texts.length) this.handle(texts[0]);
    } catch (error) {
      // The camera stopped under the frame (leaving, hiding): the next start takes new ones.
      if (this.scanning) console.warn("shopfloor: frame", error);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Act on a scan from the camera, the code field or a wedge scanner: open the bin (or list it in
   * continuous mode), or say why not.
   * @param {string} text
   */
  handle(text) {
    const scan = readHere(text);
    if (scan.kind !== "bin") return this.refuse(messageFor(scan), scan.kind);
    this.lastRefusal = "";
    this.message.hidden = true;
    this.message.removeAttribute("data-kind");
    this.status.hidden = !this.status.textContent;
    if (this.continuous.checked) return this.addToList(scan.code);
    feedback.success();
    performance.mark("shopfloor:scan-open");
    this.root.dataset.scanned = scan.code;
    // Let go of the camera and the decoder now rather than while the next page loads.
    this.stopCamera();
    this.decoder?.close();
    this.decoder = null;
    this.setState("opening", t("scan_opening", { code: scan.code }));
    location.assign(binUrl(scan.code));
  }

  /**
   * Show why a scan opens nothing; buzz once per new message, not for every frame of the same label.
   * @param {string} text
   * @param {string} kind
   */
  refuse(text, kind) {
    if (text !== this.lastRefusal) feedback.refusal();
    this.lastRefusal = text;
    this.message.textContent = text;
    this.message.dataset.kind = kind;
    this.message.hidden = false;
    this.status.hidden = true; // the message says what to do instead
  }

  async toggleTorch() {
    if (!this.camera) return;
    const on = !this.camera.torchOn;
    try {
      await this.camera.setTorch(on);
      this.torch.setAttribute("aria-pressed", String(on));
    } catch (error) {
      console.warn("shopfloor: torch", error);
      this.torch.hidden = true; // the camera said it had one, but will not switch it
    }
  }

  /** Size the view to the video's shape and the framing box to the part of the frame that is read first. */
  fitView() {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return;
    const side = BOX * Math.min(width, height);
    this.view.style.setProperty("--camera-aspect", String(width / height));
    this.view.style.setProperty("--box-w", String(side / width));
    this.view.style.setProperty("--box-h", String(side / height));
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
   * Show the explanation for `kind` (none for ""), with the HTTPS address to open instead when
   * the page came over plain HTTP.
   * @param {string} kind
   */
  showProblem(kind) {
    for (const el of this.root.querySelectorAll("[data-camera-problem]")) {
      /** @type {HTMLElement} */ (el).hidden = el.getAttribute("data-camera-problem") !== kind;
    }
    if (!kind) return;
    this.view.hidden = true;
    this.controls.hidden = true;
    this.setState("problem", "");
    this.root.dataset.problem = kind;
    if (kind === "insecure") {
      const address = this.httpsAddress();
      for (const link of this.root.querySelectorAll("[data-https-link]")) {
        link.setAttribute("href", address);
        link.textContent = address;
      }
    }
  }

  /** Where this screen would open over HTTPS: PUBLIC_URL when it is https, else this host on HTTPS_PORT. */
  httpsAddress() {
    const publicUrl = document.querySelector('meta[name="shopfloor-public-url"]')?.getAttribute("content") ?? "";
    if (publicUrl.startsWith("https://")) return `${publicUrl.replace(/\/+$/, "")}/scan`;
    const port = this.root.dataset.httpsPort ?? "";
    const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
    return `https://${host}${port && port !== "443" ? `:${port}` : ""}/scan`;
  }

  /** When the camera was refused and the person allows it in the browser's settings, start at once. */
  async watchPermission() {
    try {
      const status = await navigator.permissions?.query(/** @type {any} */ ({ name: "camera" }));
      if (status) {
        status.addEventListener("change", () => {
          if (status.state === "granted" && this.root.dataset.cameraState === "problem") this.start();
        });
      }
    } catch {
      // this browser cannot tell: "Try again" does it
    }
  }

  /** Release the camera (the page is hidden or left); the decoder stays for the next start. */
  stopCamera() {
    this.scanning = false;
    this.camera?.stop();
    this.camera = null;
    if (this.root.dataset.cameraState === "scanning" || this.root.dataset.cameraState === "starting") {
      this.root.dataset.cameraState = "off";
    }
  }

  /** The screen left the page (an htmx swap): let go of everything. */
  teardown() {
    this.stopCamera();
    this.decoder?.close();
    this.decoder = null;
    document.removeEventListener(SCAN_EVENT, this.onScan);
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.removeEventListener("pagehide", this.onPageHide);
    window.removeEventListener("pageshow", this.onPageShow);
  }

  /** @returns {string[]} the codes listed, newest first (kept for this tab, across the bin pages opened from it) */
  loadList() {
    try {
      const codes = JSON.parse(sessionStorage.getItem(LIST_KEY) ?? "[]");
      return Array.isArray(codes) ? codes.filter((c) => typeof c === "string") : [];
    } catch {
      return [];
    }
  }

  /** @param {string[]} codes */
  saveList(codes) {
    sessionStorage.setItem(LIST_KEY, JSON.stringify(codes));
  }

  /**
   * Continuous mode: list a bin (once; scanning it again points at its line).
   * @param {string} code
   */
  addToList(code) {
    const codes = this.loadList();
    if (codes.includes(code)) {
      const item = this.items.querySelector(`[data-scan-item="${CSS.escape(code)}"]`);
      item?.setAttribute("data-again", "");
      setTimeout(() => item?.removeAttribute("data-again"), 600);
      return;
    }
    feedback.success();
    this.saveList([code, ...codes]);
    this.renderList();
  }

  renderList() {
    const codes = this.loadList();
    this.list.hidden = !this.continuous.checked && codes.length === 0;
    one(this.list, "[data-scan-count]").textContent = String(codes.length);
    this.items.replaceChildren(...codes.map((code) => this.listItem(code)));
  }

  /** @param {string} code */
  listItem(code) {
    const item = document.createElement("li");
    item.setAttribute("data-scan-item", code);
    const name = document.createElement("span");
    name.className = "code";
    name.textContent = code;
    const detail = document.createElement("span");
    detail.className = "scan-item-detail";
    const open = document.createElement("a");
    open.className = "btn small";
    open.href = binUrl(code);
    open.textContent = t("open");
    const count = document.createElement("a");
    count.className = "btn small primary";
    count.href = `${binUrl(code)}#count-form`;
    count.textContent = t("count");
    count.setAttribute("data-scan-count-action", "");
    const actions = document.createElement("span");
    actions.className = "scan-item-actions";
    actions.append(open, count);
    item.append(name, detail, actions);
    // What this device knows of the bin (pulled data; works offline).
    getBin(code).then(
      (bin) => {
        detail.textContent = bin
          ? [bin.product_name, bin.location_name, waited(bin)].filter(Boolean).join(" · ")
          : t("scan_not_on_device");
      },
      () => {},
    );
    return item;
  }
}

/** "waiting 2 h 05 min" for a bin in a waiting area (§3.3). @param {Record<string, any>} bin */
function waited(bin) {
  const m = Math.floor((Date.now() - Date.parse(bin.location_since)) / 6e4);
  return bin.location_kind === "waiting" && m >= 0 ? t("waited", { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") }) : "";
}
