// @ts-check
/**
 * The inspection screen (/inspections/new?kind=…&order=…, /inspections/<uid>: <div data-inspection>,
 * inspections/screen.html; offline the worker serves the same page as the shell /offline/inspection),
 * drawn from what this device holds, online or not: the order, its product and quality figures, the
 * checklist templates, the defect catalogue and the sampling tables as pulled, and the inspection
 * folded from the pulled row and this device's own records (offline/inspections.js).
 *
 * Four steps, one after the other, each saved in the outbox as it is done:
 * 1. Start (`inspection.started`): the checklist; for a final inspection the lot, the level, the
 *    severity the series is at and why, the plan per defect class computed here from the pulled
 *    tables (aql.js), how many units to pull and which cartons and units, drawn at random.
 * 2. Checklist: unit by unit, each measured item on the number keypad, out of tolerance shown as it
 *    is typed; each check item pass or fail (`inspection.measured` per unit).
 * 3. Defects (`inspection.defect_recorded`): class, type from the catalogue, where, how many, photos
 *    from the camera (the camera app through <input capture>, or taken here), downscaled here, each
 *    with its markup (photo-markup.js) kept apart from the photo; totals per class, and for a final
 *    inspection Ac/Re per class and the lot's decision as it stands.
 * 4. Verdict and signature (`inspection.completed`, saved by offline-form.js with the drawn
 *    signature); then the co-signer where the kind has one (the operator of a first piece, the
 *    factory for a pre-production sample: `inspection.signed` with their staff badge and PIN,
 *    signer.js), then done, with the report's link.
 * States for people and tests: data-inspection-stage (unknown | new | open | cosign | done) and
 * data-inspection-shown on the root once the device's records are in.
 */
import { classPlans, decide } from "../offline/aql.js";
import { onChange, openShopfloorDB } from "../offline/db.js";
import {
  CLASSES,
  CO_SIGNER,
  catalogueFor,
  deviceInspection,
  drawSample,
  foundPerClass,
  limitsText,
  normalValue,
  say,
  templatesFor,
  toleranceOf,
} from "../offline/inspections.js";
import { pageUser, saveEvent } from "../offline/outbox.js";
import { preparePhoto } from "../offline/photos.js";
import { signatureText } from "../offline/signature-note.js";
import { uuid7 } from "../offline/uuid7.js";
import { pageLanguage, t } from "../i18n.js";
import { Camera, cameraUnavailable, problemOf } from "../scan/camera.js";
import { drawShapes, markUp } from "./photo-markup.js";

export const selector = "[data-inspection]";

/** At most this many photos a defect (the server's limit). */
const MAX_PHOTOS = 6;
/** The order the item groups of a checklist are shown in. */
const GROUPS = ["size", "workmanship", "materials", "pressing", "packaging", "quantity", "other"];

/** @typedef {import("../offline/inspections.js").DeviceInspection} DeviceInspection */
/** @typedef {import("../offline/inspections.js").Shape} Shape */
/** @typedef {import("../offline/outbox.js").Attachment} Attachment */
/** @typedef {Record<string, any>} Row a row as pulled */
/**
 * What the screen shows, read from the device in one go.
 * @typedef {object} Facts
 * @property {DeviceInspection | null} inspection
 * @property {string} kind
 * @property {string} orderNumber
 * @property {Row | undefined} order
 * @property {Row | undefined} product
 * @property {Row[]} templates those for this kind and product, the one to use first
 * @property {Row | undefined} template the one in use (the start's, else the first)
 * @property {Row[]} catalogue
 * @property {any} tables the sampling tables (null when not pulled)
 * @property {Row[]} operations
 */
/**
 * A plan for a final inspection's lot: per class, and the units to pull (the largest class's n).
 * @typedef {{plans: Record<string, any>, sampleSize: number, inspectAll: boolean} | {error: string}} LotPlan
 */
/** A photo taken for the defect being written: its bytes, its size and its markup. */
/** @typedef {{attachment: Attachment, url: string, width: number, height: number, shapes: Shape[]}} Photo */

/** @param {Element} root */
export function attach(root) {
  if (root instanceof HTMLElement) new InspectionScreen(root).start();
}

/**
 * @param {ParentNode} root
 * @param {string} selector
 */
function one(root, selector) {
  return /** @type {HTMLElement} */ (root.querySelector(selector));
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {(string | Node)[]} [children]
 */
function make(tag, attributes = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  el.append(...children);
  return el;
}

/** A thing's name in the page's language. */
/**
 * @param {Row | undefined} thing
 * @param {string} [zh] its field holding the Chinese name
 * @param {string} [en] its field holding the English one
 */
function localName(thing, zh = "name_zh", en = "name_en") {
  if (!thing) return "";
  return ((pageLanguage() ?? "").startsWith("zh") ? thing[zh] || thing[en] : thing[en] || thing[zh]) || thing.code || "";
}

/** The other language's name, when it differs (a catalogue is bilingual). */
function otherName(/** @type {Row} */ thing) {
  const zh = (pageLanguage() ?? "").startsWith("zh");
  const other = zh ? thing.name_en : thing.name_zh;
  return other && other !== localName(thing) ? other : "";
}

/** An <svg> to draw a photo's markup in. */
function newSvg() {
  return /** @type {SVGSVGElement} */ (document.createElementNS("http://www.w3.org/2000/svg", "svg"));
}

/** @param {number} n */
const number = (n) => n.toLocaleString(pageLanguage());

/** The inspection's id from /inspections/<uid>. */
function idFromPath() {
  return location.pathname.match(/^\/inspections\/([0-9a-fA-F-]{36})$/)?.[1] ?? "";
}

/**
 * The plan for a lot from the pulled tables: each class's, and n to pull (all of the lot when a
 * class's plan asks for more than there is).
 * @param {any} tables
 * @param {number} lotSize
 * @param {Record<string, string>} aqls
 * @param {string} level
 * @param {string} severity
 * @returns {LotPlan}
 */
function lotPlan(tables, lotSize, aqls, level, severity) {
  if (!tables) return { error: say("no_tables") };
  if (!(Number.isInteger(lotSize) && lotSize >= 2)) return { error: say("lot_too_small") };
  try {
    const plans = classPlans(tables, lotSize, aqls, level, severity);
    let sampleSize = 0;
    // A class without a plan (AQL 0: any one rejects) is judged on the units the others pull.
    for (const plan of Object.values(plans)) {
      if (plan) sampleSize = Math.max(sampleSize, plan.inspectAll ? lotSize : plan.sampleSize);
    }
    if (!sampleSize) return { error: say("no_plan") };
    sampleSize = Math.min(sampleSize, lotSize);
    return { plans, sampleSize, inspectAll: sampleSize >= lotSize };
  } catch (error) {
    return { error: say("plan_error", { error: error instanceof Error ? error.message : String(error) }) };
  }
}

class InspectionScreen {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    const query = new URLSearchParams(location.search);
    const data = root.dataset;
    // The server makes the id for /inspections/new; the shell (offline) leaves it to the device.
    this.id = data.inspection || idFromPath() || uuid7();
    this.asked = {
      kind: data.kind || query.get("kind") || "",
      order: data.order || query.get("order") || "",
      operation: data.operation || query.get("operation") || "",
      bin: data.bin || query.get("bin") || "",
      reinspect: data.reinspect || query.get("reinspect") || "",
    };
    this.round = 0;
    /** @type {Facts | null} */
    this.facts = null;
    this.head = one(root, "[data-insp-head]");
    this.startSection = one(root, "[data-insp-start]");
    this.startForm = /** @type {HTMLFormElement} */ (one(root, "form[data-insp-start-form]"));
    this.checklist = one(root, "[data-insp-checklist]");
    this.unitForm = /** @type {HTMLFormElement} */ (one(root, "form[data-insp-unit-form]"));
    this.defectsSection = one(root, "[data-insp-defects]");
    this.defectForm = /** @type {HTMLFormElement} */ (one(root, "form[data-insp-defect-form]"));
    this.markupPanel = one(root, "[data-markup]");
    this.completeSection = one(root, "[data-insp-complete]");
    this.completeForm = /** @type {HTMLFormElement} */ (one(root, "form[data-insp-complete-form]"));
    this.signaturesSection = one(root, "[data-insp-signed]");
    this.cosignSection = one(root, "[data-insp-cosign]");
    this.cosignForm = /** @type {HTMLFormElement} */ (one(root, "form[data-insp-cosign-form]"));
    this.doneSection = one(root, "[data-insp-done]");

    this.startKey = ""; // what the start form was set up for
    this.lot = /** @type {LotPlan | null} */ (null);
    /** @type {{carton: number, units: number[]}[]} */
    this.draw = [];
    this.drawKey = "";
    this.unit = 0; // the unit the checklist shows (0: not chosen yet)
    this.unitKey = "";
    /** @type {Map<number, Record<string, string>>} what was typed for each unit and not saved yet */
    this.drafts = new Map();
    /** @type {Photo[]} */
    this.photos = [];
    /** @type {Camera | null} */
    this.camera = null;
    this.cameraRound = 0;
    /** @type {Map<string, string>} object URLs of the photos held on this device, by SHA-256 */
    this.photoUrls = new Map();
    this.saving = false;
  }

  start() {
    this.startForm.addEventListener("submit", (event) => this.saveStart(event));
    this.startForm.addEventListener("input", () => this.showPlan());
    one(this.startForm, "select[name=template]").addEventListener("change", () => this.facts && this.setUnits(this.facts));
    one(this.startForm, "[data-insp-redraw]").addEventListener("click", () => {
      this.drawKey = "";
      this.showPlan();
    });
    this.unitForm.addEventListener("submit", (event) => this.saveUnit(event));
    this.unitForm.addEventListener("input", (event) => this.typed(event));
    one(this.checklist, "[data-insp-unit-tabs]").addEventListener("click", (event) => {
      const tab = event.target instanceof Element ? event.target.closest("[data-unit]") : null;
      if (tab) this.chooseUnit(Number(tab.getAttribute("data-unit")));
    });
    this.bindDefects();
    // Before offline-form.js's own listeners on these forms (capture, on an ancestor).
    this.root.addEventListener("submit", (event) => this.checkSigning(event), true);
    this.render();
    const stop = onChange((change) => {
      if (!this.root.isConnected) stop();
      else if (["saved", "results", "pulled", "outbox", "blobs"].includes(change.type)) this.render();
    });
    const quiet = () => this.closeCamera();
    window.addEventListener("pagehide", quiet);
    document.addEventListener("visibilitychange", () => document.hidden && quiet());
    window.addEventListener("pagehide", () => {
      for (const url of this.photoUrls.values()) URL.revokeObjectURL(url);
    });
  }

  /** @returns {Promise<Facts>} */
  async load() {
    const db = await openShopfloorDB();
    const inspection = await deviceInspection(this.id);
    const started = inspection?.started;
    const kind = String(started?.kind ?? this.asked.kind);
    const orderNumber = String(started?.work_order ?? this.asked.order);
    const [order, templates, types, aql, operations] = await Promise.all([
      orderNumber ? db.get("work_orders", orderNumber) : undefined,
      db.getAll("inspection_templates"),
      db.getAll("defect_types"),
      db.get("references", "aql"),
      db.getAll("operations"),
    ]);
    const product = order?.product_code ? await db.get("products", order.product_code) : undefined;
    const productCode = order?.product_code ?? null;
    const candidates = templatesFor(templates, productCode, kind);
    const template = started?.template
      ? (templates.find((t) => t.code === started.template) ?? candidates[0])
      : (candidates.find((t) => t.code === this.templateChosen()) ?? candidates[0]);
    return {
      inspection, kind, orderNumber, order, product, templates: candidates, template,
      catalogue: catalogueFor(types, productCode), tables: aql?.tables ?? null, operations,
    };
  }

  /** Show the inspection as this device knows it now (the newest render wins). */
  async render() {
    const round = ++this.round;
    const facts = await this.load();
    if (round !== this.round) return;
    this.facts = facts;
    const { inspection } = facts;
    let stage = "unknown";
    if (!inspection) stage = facts.kind && facts.orderNumber ? "new" : "unknown";
    else if (!inspection.completed) stage = "open";
    else stage = inspection.cosign ? "cosign" : "done";
    const previous = this.root.dataset.inspectionStage;
    this.root.dataset.inspectionStage = stage;
    this.showHead(facts, stage);
    this.startSection.hidden = stage !== "new";
    this.checklist.hidden = stage !== "open";
    this.defectsSection.hidden = !["open", "cosign", "done"].includes(stage);
    this.completeSection.hidden = stage !== "open";
    this.cosignSection.hidden = stage !== "cosign";
    this.doneSection.hidden = stage !== "done";
    this.signaturesSection.hidden = !inspection?.signatures.length;
    if (stage === "new") this.showStart(facts);
    if (inspection && stage === "open") {
      this.showChecklist(facts, inspection);
      this.showComplete(facts, inspection);
    }
    if (inspection && stage !== "unknown" && stage !== "new") {
      this.showDefects(facts, inspection, stage === "open");
      this.showSignatures(inspection);
    }
    if (inspection && stage === "cosign") this.showCosign(inspection);
    if (inspection && stage === "done") this.showDone(inspection);
    // One step after the other: the next comes into view once the last is saved.
    if (previous && previous !== stage) {
      const open = this.checklist.hidden ? this.defectsSection : this.checklist;
      const next = { open, cosign: this.cosignSection, done: this.doneSection }[stage];
      if (next) scrollUnderHeader(next);
    }
    this.root.dataset.inspectionShown = "";
  }

  // --- the head ----------------------------------------------------------------------------------

  /**
   * @param {Facts} facts
   * @param {string} stage
   */
  showHead(facts, stage) {
    const { inspection, order, product, template, kind } = facts;
    const started = inspection?.started ?? null;
    one(this.head, "[data-insp-kind]").textContent = kind ? say(`kind_${kind}`) : "";
    one(this.head, "[data-insp-number]").textContent = this.id.slice(0, 8).toUpperCase();
    one(this.head, "[data-insp-unknown]").hidden = stage !== "unknown";
    one(this.head, "[data-insp-no-order]").hidden = !facts.orderNumber || Boolean(order) || stage === "unknown";
    const state = one(this.head, "[data-insp-state]");
    const status = inspection ? inspection.status : stage === "new" ? "new" : "";
    state.dataset.state = status;
    state.replaceChildren(status ? say(`status_${status}`) : "");
    if (inspection?.cosign) {
      const next = make("strong", { "data-next-step": inspection.cosign }, [say(`step_${inspection.cosign}`)]);
      state.append(` · ${say("next_to_sign")}: `, next);
    }
    const operationCode = started?.operation ?? this.asked.operation;
    const operation = facts.operations.find((o) => o.code === operationCode);
    /** @type {Record<string, string>} */
    const fields = {
      order: [facts.orderNumber, order?.customer].filter(Boolean).join(" · "),
      product: product ? `${product.code} · ${localName(product)}` : (order?.product_name ?? ""),
      operation: operationCode ? `${operationCode}${operation ? ` · ${localName(operation)}` : ""}` : "",
      template: template ? localName(template) || template.code : "",
      lot: "",
    };
    if (started && kind === "final" && started.lot_size) {
      fields.lot = say("lot_line", {
        lot: number(Number(started.lot_size)), n: number(Number(started.sample_size ?? 0)),
        severity: say(`severity_${started.severity ?? "normal"}`), level: String(started.level ?? ""),
      });
    }
    for (const el of this.head.querySelectorAll("[data-insp-field]")) {
      const value = fields[el.getAttribute("data-insp-field") ?? ""] ?? "";
      el.textContent = value || "—";
      const row = el.closest("[data-insp-row]");
      if (row instanceof HTMLElement) row.hidden = !value;
    }
    const reinspection = started?.reinspection_of ?? (stage === "new" ? this.asked.reinspect : "");
    const again = one(this.head, "[data-insp-reinspection]");
    again.hidden = !reinspection;
    again.textContent = reinspection ? say("reinspection", { number: String(reinspection).slice(0, 8).toUpperCase() }) : "";
    this.showFocus(facts);
  }

  /**
   * A mid-production inspection's focus points: what the first pieces found.
   * @param {Facts} facts
   */
  showFocus(facts) {
    const box = one(this.head, "[data-insp-focus]");
    const focus = facts.kind === "mid_production" ? facts.order?.quality?.focus ?? [] : [];
    box.hidden = !focus.length;
    if (!focus.length) return;
    const items = /** @type {Row[]} */ (facts.template?.items ?? []);
    const names = new Map(facts.catalogue.map((d) => [d.code, localName(d)]));
    one(box, "ul").replaceChildren(
      ...focus.map((/** @type {Row} */ point) => {
        const text = localName(point, "text_zh", "text_en") || point.text || "";
        const item = items.find((i) => i.key === point.item);
        const label = item ? localName(item, "label_zh", "label_en") : (names.get(point.type) ?? "");
        const said = label && label !== text ? [make("strong", {}, [label]), `: ${text}`] : [make("strong", {}, [text || label])];
        return make("li", { "data-focus": point.item ?? point.type ?? "" }, said);
      }),
    );
  }

  // --- 1. start ----------------------------------------------------------------------------------

  /** @param {Facts} facts */
  showStart(facts) {
    const form = this.startForm;
    const field = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
    const quality = facts.order?.quality ?? {};
    const codes = facts.templates.map((t) => t.code).join(",");
    const key = [facts.kind, facts.orderNumber, codes, Boolean(facts.order)].join("|");
    if (key !== this.startKey) {
      this.startKey = key;
      const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem("template"));
      const chosen = select.value;
      select.replaceChildren(
        ...facts.templates.map((t) => {
          const whose = t.product ? "" : ` (${say("plant_template")})`;
          return make("option", { value: t.code }, [`${localName(t) || t.code}${whose}`]);
        }),
      );
      if (facts.templates.some((t) => t.code === chosen)) select.value = chosen;
      const final = facts.kind === "final";
      if (final) {
        field("lot_size").value = quality.packed ? String(quality.packed) : "";
        /** @type {HTMLSelectElement} */ (form.elements.namedItem("level")).value = quality.level ?? "II";
      }
      this.setUnits(facts);
    }
    one(form, "[data-insp-no-template]").hidden = facts.templates.length > 0;
    const final = facts.kind === "final";
    one(form, "[data-insp-final]").hidden = !final;
    for (const name of ["lot_size", "level"]) field(name).disabled = !final;
    this.showPlan();
  }

  /**
   * The units the checklist is filled for: the template's default (at most the sample, for a final inspection).
   * @param {Facts} facts
   */
  setUnits(facts) {
    const input = /** @type {HTMLInputElement} */ (this.startForm.elements.namedItem("units"));
    const template = facts.templates.find((t) => t.code === this.templateChosen()) ?? facts.templates[0];
    let units = Number(template?.units) || 1;
    if (facts.kind === "final" && this.lot && "sampleSize" in this.lot) units = Math.min(units, this.lot.sampleSize);
    input.value = input.defaultValue = String(units);
  }

  templateChosen() {
    return /** @type {HTMLSelectElement} */ (this.startForm.elements.namedItem("template")).value;
  }

  /** The final inspection's plan for the lot as typed: per class, n to pull, the cartons and units to take. */
  showPlan() {
    const facts = this.facts;
    if (!facts || facts.kind !== "final") {
      this.lot = null;
      return;
    }
    const form = this.startForm;
    const quality = facts.order?.quality ?? {};
    const lotSize = Number.parseInt(/** @type {HTMLInputElement} */ (form.elements.namedItem("lot_size")).value, 10);
    const level = /** @type {HTMLSelectElement} */ (form.elements.namedItem("level")).value;
    const series = quality.series ?? {};
    const severity = String(series.severity ?? "normal");
    const aqls = /** @type {Record<string, string>} */ (quality.aqls ?? { critical: "0", major: "2.5", minor: "4.0" });
    const before = this.lot && "sampleSize" in this.lot ? this.lot.sampleSize : -1;
    const lot = lotPlan(facts.tables, lotSize, aqls, level, severity);
    this.lot = lot;
    one(form, "[data-insp-packed]").textContent = quality.cartons
      ? say("packed", { pieces: number(Number(quality.packed ?? 0)), cartons: number(Number(quality.cartons)) })
      : "";
    const severityLine = one(form, "[data-insp-severity]");
    severityLine.dataset.severity = severity;
    const why = reasonText(series);
    severityLine.replaceChildren(make("strong", {}, [say(`severity_${severity}`)]), why ? `: ${why}` : "");
    const problem = one(form, "[data-insp-plan-problem]");
    const table = one(form, "[data-insp-plan]");
    const pull = one(form, "[data-insp-pull]");
    problem.hidden = !("error" in lot);
    table.hidden = pull.hidden = "error" in lot;
    if ("error" in lot) {
      problem.textContent = lot.error;
      one(form, "[data-insp-draw] ol").replaceChildren();
      return;
    }
    one(table, "tbody").replaceChildren(
      ...CLASSES.filter((c) => c in lot.plans).map((c) => {
        const plan = lot.plans[c];
        if (!plan) {
          return make("tr", { "data-class": c }, [
            make("th", { scope: "row" }, [say(`class_${c}`)]),
            make("td", {}, [String(aqls[c] ?? "0")]),
            make("td", { colspan: "2" }, [say("any_rejects")]),
            make("td", { "data-ac": "" }, ["0"]),
            make("td", { "data-re": "" }, ["1"]),
          ]);
        }
        return make("tr", { "data-class": c }, [
          make("th", { scope: "row" }, [say(`class_${c}`)]),
          make("td", {}, [String(aqls[c] ?? "")]),
          make("td", {}, [plan.codeLetter === plan.planLetter ? plan.codeLetter : `${plan.codeLetter}→${plan.planLetter}`]),
          make("td", { "data-n": "" }, [plan.inspectAll ? say("all_units") : number(plan.sampleSize)]),
          make("td", { "data-ac": "" }, [String(plan.accept)]),
          make("td", { "data-re": "" }, [String(plan.reject)]),
        ]);
      }),
    );
    pull.dataset.sampleSize = String(lot.sampleSize);
    pull.textContent = say(lot.inspectAll ? "inspect_all" : "pull_n", { n: number(lot.sampleSize) });
    if (lot.sampleSize !== before && this.facts) this.setUnits(this.facts);
    // The draw changes only with the sample (or when asked): the inspector may be pulling already.
    const drawKey = `${lot.sampleSize}|${quality.packed}|${quality.cartons}`;
    if (drawKey !== this.drawKey) {
      this.drawKey = drawKey;
      const packed = Math.min(lotSize, Number(quality.packed ?? lotSize));
      this.draw = drawSample(lot.sampleSize, packed, Number(quality.cartons ?? 0));
    }
    const box = one(form, "[data-insp-draw]");
    box.hidden = !this.draw.length;
    one(box, "ol").replaceChildren(
      ...this.draw.map(({ carton, units }) =>
        make("li", { "data-carton": String(carton) }, [
          say("carton_units", { carton: String(carton), units: units.join(", ") }),
        ]),
      ),
    );
  }

  /** @param {SubmitEvent} event */
  async saveStart(event) {
    event.preventDefault();
    const facts = this.facts;
    const form = this.startForm;
    if (!facts || this.saving) return;
    const problem = (/** @type {string} */ text) => this.problem(form, text);
    if (!form.reportValidity()) return;
    const template = this.templateChosen();
    if (!template) return problem(say("no_template"));
    const units = Number.parseInt(/** @type {HTMLInputElement} */ (form.elements.namedItem("units")).value, 10);
    /** @type {Record<string, unknown>} */
    const payload = { inspection_id: this.id, kind: facts.kind, work_order: facts.orderNumber, template };
    if (this.asked.operation) payload.operation = this.asked.operation;
    if (this.asked.bin) payload.bin_code = this.asked.bin;
    if (this.asked.reinspect) payload.reinspection_of = this.asked.reinspect;
    if (facts.kind === "final") {
      const lot = this.lot;
      if (!lot || "error" in lot) return problem(lot && "error" in lot ? lot.error : say("no_tables"));
      const quality = facts.order?.quality ?? {};
      const aqls = /** @type {Record<string, string>} */ (quality.aqls ?? {});
      Object.assign(payload, {
        lot_size: Number.parseInt(/** @type {HTMLInputElement} */ (form.elements.namedItem("lot_size")).value, 10),
        level: /** @type {HTMLSelectElement} */ (form.elements.namedItem("level")).value,
        severity: String(quality.series?.severity ?? "normal"),
        aqls: Object.fromEntries(CLASSES.filter((c) => aqls[c] !== undefined).map((c) => [c, String(aqls[c])])),
        sample_size: lot.sampleSize,
        units: Math.min(units, lot.sampleSize),
      });
      if (this.draw.length) payload.cartons = this.draw.map((d) => d.carton);
    } else {
      payload.units = units;
      payload.sample_size = units;
    }
    const note = /** @type {HTMLTextAreaElement} */ (form.elements.namedItem("note")).value.trim();
    if (note) payload.note = note;
    await this.save(form, "inspection.started", payload);
    if (location.pathname !== `/inspections/${this.id}`) history.replaceState(null, "", `/inspections/${this.id}`);
  }

  /**
   * Save one record from a form of this screen, saying so in its status line.
   * @param {HTMLFormElement} form
   * @param {string} type
   * @param {Record<string, unknown>} payload
   * @param {Attachment[]} [attachments]
   * @returns {Promise<boolean>} whether it was saved
   */
  async save(form, type, payload, attachments = []) {
    const status = one(form, "[data-save-status]");
    const buttons = [...form.querySelectorAll("button[type=submit]")].map((b) => /** @type {HTMLButtonElement} */ (b));
    this.saving = true;
    for (const button of buttons) button.disabled = true;
    status.dataset.state = "working";
    status.textContent = t("saving");
    try {
      await saveEvent(type, 1, payload, attachments);
      status.dataset.state = "saved";
      status.textContent = t("saved_on_device");
      this.problem(form, "");
      return true;
    } catch (error) {
      status.dataset.state = "error";
      status.textContent = error instanceof Error ? error.message : String(error);
      return false;
    } finally {
      this.saving = false;
      for (const button of buttons) button.disabled = false;
    }
  }

  /**
   * @param {HTMLElement} form
   * @param {string} text
   */
  problem(form, text) {
    const el = form.querySelector("[data-insp-problem]");
    if (!(el instanceof HTMLElement) || el.textContent === text) return;
    el.textContent = text;
    el.hidden = !text;
  }

  // --- 2. the checklist --------------------------------------------------------------------------

  /**
   * @param {Facts} facts
   * @param {DeviceInspection} inspection
   */
  showChecklist(facts, inspection) {
    const items = /** @type {Row[]} */ (facts.template?.items ?? []);
    const units = Math.max(1, Number(inspection.started?.units ?? facts.template?.units ?? 1));
    this.checklist.hidden = !items.length;
    if (!items.length) return;
    if (!this.unit || this.unit > units) {
      this.unit = 1;
      for (let u = 1; u <= units; u++) {
        if (!inspection.values.has(u)) {
          this.unit = u;
          break;
        }
      }
    }
    const tabs = one(this.checklist, "[data-insp-unit-tabs]");
    const tabList = [];
    for (let u = 1; u <= units; u++) {
      const saved = inspection.values.get(u);
      const out = saved ? items.some((item) => unitState(item, saved[item.key]) === "out") : false;
      const tab = make("button", {
        type: "button", class: "unit-tab", "data-unit": String(u), "data-state": out ? "out" : saved ? "saved" : "",
        "aria-pressed": String(u === this.unit),
      }, [String(u)]);
      tabList.push(tab);
    }
    tabs.replaceChildren(...tabList);
    const key = `${facts.template?.code}|${this.unit}|${units}`;
    if (key === this.unitKey) return;
    this.unitKey = key;
    const saved = inspection.values.get(this.unit) ?? {};
    const draft = this.drafts.get(this.unit) ?? {};
    one(this.unitForm, "[data-insp-unit-title]").textContent = say("unit_n", { n: String(this.unit), of: String(units) });
    one(this.unitForm, "[data-insp-save-unit]").textContent = say("save_unit", { n: String(this.unit) });
    const groups = [...new Set(items.map((i) => i.group ?? "other"))].sort((a, b) => GROUPS.indexOf(a) - GROUPS.indexOf(b));
    const blocks = groups.map((group) =>
      make("fieldset", { class: "item-group", "data-group": group }, [
        make("legend", {}, [say(`group_${group}`)]),
        ...items
          .filter((i) => (i.group ?? "other") === group)
          .map((item) => this.itemRow(item, draft[item.key] ?? saved[item.key] ?? "")),
      ]),
    );
    one(this.unitForm, "[data-insp-items]").replaceChildren(...blocks);
    const status = one(this.unitForm, "[data-save-status]");
    if (status.dataset.state !== "saved") status.textContent = "";
    this.problem(this.unitForm, "");
  }

  /**
   * One item of the checklist: a number for a measured one (its limits beside it), pass or fail for a check.
   * @param {Row} item
   * @param {string} value what is typed or saved
   */
  itemRow(item, value) {
    const label = localName(item, "label_zh", "label_en") || item.key;
    if (item.type === "measure") {
      const input = /** @type {HTMLInputElement} */ (make("input", {
        name: `item:${item.key}`, inputmode: "decimal", autocomplete: "off", enterkeyhint: "next", class: "measure-input",
        "data-item-input": item.key, "aria-describedby": `limits-${item.key}`,
      }));
      input.value = value;
      const limits = limitsText(item);
      const row = make("div", { class: "item", "data-item": item.key, "data-item-type": "measure" }, [
        make("label", {}, [
          make("span", { class: "item-label" }, [label]),
          make("span", { class: "item-limits", id: `limits-${item.key}` }, [
            item.nominal ? `${say("nominal")} ${item.nominal}${item.unit ? ` ${item.unit}` : ""}` : "",
            limits ? ` · ${limits}` : "",
          ]),
          input,
        ]),
        make("span", { class: "item-verdict", "data-item-verdict": "", "aria-live": "polite" }),
      ]);
      this.judge(row, item, value);
      return row;
    }
    const id = `check-${item.key}`;
    const buttons = ["pass", "fail"].map((v) =>
      make("button", { type: "button", class: `btn check-${v}`, "data-check-value": v, "aria-pressed": String(value === v) }, [
        say(v),
      ]),
    );
    const row = make("div", { class: "item", "data-item": item.key, "data-item-type": "check", "data-check": value }, [
      make("span", { class: "item-label", id }, [label]),
      make("div", { class: "pass-fail", role: "group", "aria-labelledby": id }, buttons),
    ]);
    for (const button of buttons) {
      button.addEventListener("click", () => {
        const v = button.getAttribute("data-check-value") ?? "";
        row.dataset.check = v;
        for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
        this.keepDraft(item.key, v);
      });
    }
    return row;
  }

  /**
   * Mark a measured value in or out of tolerance, as it is typed.
   * @param {HTMLElement} row
   * @param {Row} item
   * @param {string} value
   */
  judge(row, item, value) {
    const state = toleranceOf(item, value);
    row.dataset.tolerance = state;
    const input = row.querySelector("input");
    input?.setAttribute("aria-invalid", String(state === "out" || state === "bad"));
    const verdict = one(row, "[data-item-verdict]");
    const said = { out: say("out_of_tolerance"), bad: say("not_a_number"), in: "✓", "": "" };
    verdict.textContent = said[state];
  }

  /** @param {Event} event */
  typed(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.itemInput) return;
    const item = (this.facts?.template?.items ?? []).find((/** @type {Row} */ i) => i.key === input.dataset.itemInput);
    const row = input.closest("[data-item]");
    if (item && row instanceof HTMLElement) this.judge(row, item, input.value);
    this.keepDraft(input.dataset.itemInput, input.value);
    const status = one(this.unitForm, "[data-save-status]");
    status.textContent = "";
    status.dataset.state = "";
  }

  /**
   * @param {string} key
   * @param {string} value
   */
  keepDraft(key, value) {
    const draft = this.drafts.get(this.unit) ?? {};
    draft[key] = value;
    this.drafts.set(this.unit, draft);
  }

  /** @param {number} unit */
  chooseUnit(unit) {
    if (!unit || unit === this.unit) return;
    this.unit = unit;
    one(this.unitForm, "[data-save-status]").dataset.state = "";
    this.render();
  }

  /** @param {SubmitEvent} event */
  async saveUnit(event) {
    event.preventDefault();
    const facts = this.facts;
    if (!facts || this.saving) return;
    const items = /** @type {Row[]} */ (facts.template?.items ?? []);
    /** @type {Record<string, string>} */
    const values = {};
    for (const row of this.unitForm.querySelectorAll("[data-item]")) {
      const key = row.getAttribute("data-item") ?? "";
      const item = items.find((i) => i.key === key);
      if (!item) continue;
      if (item.type === "measure") {
        const typed = row.querySelector("input")?.value.trim() ?? "";
        if (!typed) continue;
        const value = normalValue(typed);
        if (value === null) {
          row.querySelector("input")?.focus();
          const name = localName(item, "label_zh", "label_en") || key;
          return this.problem(this.unitForm, say("not_a_number_at", { item: name }));
        }
        values[key] = value;
      } else {
        const value = /** @type {HTMLElement} */ (row).dataset.check;
        if (value === "pass" || value === "fail") values[key] = value;
      }
    }
    if (!Object.keys(values).length) return this.problem(this.unitForm, say("nothing_typed"));
    const unit = this.unit;
    if (!(await this.save(this.unitForm, "inspection.measured", { inspection_id: this.id, unit, values }))) return;
    this.drafts.delete(unit);
    const units = Math.max(1, Number(this.facts?.inspection?.started?.units ?? 1));
    const saved = new Set([...(this.facts?.inspection?.values.keys() ?? []), unit]);
    const next = Array.from({ length: units }, (_, i) => i + 1).find((u) => u > unit && !saved.has(u));
    this.unit = next ?? unit;
    this.unitKey = ""; // the saved values are the form's now
    this.render();
  }

  // --- 3. defects --------------------------------------------------------------------------------

  bindDefects() {
    const form = this.defectForm;
    one(this.defectsSection, "[data-insp-add-defect]").addEventListener("click", () => this.openDefect());
    one(form, "[data-insp-defect-cancel]").addEventListener("click", () => this.closeDefect());
    form.addEventListener("submit", (event) => this.saveDefect(event));
    one(form, "select[name=type]").addEventListener("change", () => this.typeChosen());
    const files = /** @type {HTMLInputElement} */ (one(form, "input[data-insp-photo-input]"));
    files.addEventListener("change", async () => {
      for (const file of [...(files.files ?? [])]) await this.addPhoto(file);
      files.value = "";
    });
    one(form, "[data-insp-camera-open]").addEventListener("click", () => this.openCamera());
    one(form, "[data-insp-camera-close]").addEventListener("click", () => this.closeCamera());
    one(form, "[data-insp-snap]").addEventListener("click", () => this.snap());
    one(form, "[data-insp-photos]").addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest("button") : null;
      const item = button?.closest("[data-photo]");
      const sha = item?.getAttribute("data-photo") ?? "";
      if (button?.hasAttribute("data-photo-remove")) {
        this.photos = this.photos.filter((p) => p.attachment.sha256 !== sha);
        this.showPhotos();
      } else if (button?.hasAttribute("data-photo-markup")) {
        this.markPhoto(sha);
      }
    });
  }

  /**
   * Running totals per class; for a final inspection each class's Ac/Re and the lot's decision.
   * @param {Facts} facts
   * @param {DeviceInspection} inspection
   * @param {boolean} open defects may still be added
   */
  showDefects(facts, inspection, open) {
    const section = this.defectsSection;
    const found = foundPerClass(inspection.defects);
    const judged = this.judgement(facts, inspection);
    section.dataset.final = String(facts.kind === "final");
    one(section, "[data-insp-totals] tbody").replaceChildren(
      ...CLASSES.map((c) => {
        const cls = judged?.classes[c];
        return make("tr", { "data-class": c, "data-state": cls ? (cls.accepted ? "accept" : "reject") : "" }, [
          make("th", { scope: "row" }, [say(`class_${c}`)]),
          make("td", { "data-found": "" }, [String(found[c] ?? 0)]),
          make("td", { "data-final-only": "" }, [cls ? `${cls.accept} / ${cls.reject}` : "—"]),
          make("td", { "data-final-only": "" }, [cls ? say(cls.accepted ? "class_accepted" : "class_rejected") : ""]),
        ]);
      }),
    );
    const decision = one(section, "[data-insp-decision]");
    decision.hidden = !judged;
    if (judged) {
      decision.dataset.decision = judged.accepted ? "accept" : "reject";
      decision.textContent = say(judged.accepted ? "decision_accept" : "decision_reject");
    }
    const list = one(section, "[data-insp-defect-list]");
    const types = new Map(facts.catalogue.map((d) => [d.code, d]));
    list.replaceChildren(
      ...inspection.defects.map((d) => {
        const type = d.type ? types.get(d.type) : undefined;
        const what = [type ? localName(type) : d.type ?? "", d.description].filter(Boolean).join(": ");
        const unit = d.unit ? say("unit_short", { n: String(d.unit) }) : "";
        const detail = [d.location, unit, d.note].filter(Boolean).join(" · ");
        const item = make("li", { "data-defect": d.defect_id, "data-class": d.class, class: "defect" }, [
          make("span", { class: `tag class-${d.class}` }, [say(`class_${d.class}`)]),
          " ",
          make("strong", {}, [what || "—"]),
          ` × ${d.count}`,
          detail ? make("br") : "",
          detail,
        ]);
        if (d.record) item.dataset.local = d.record.state === "sent" ? "sent" : "pending";
        if (d.photos.length) {
          const thumbs = make("div", { class: "thumbs" });
          for (const sha of d.photos) {
            const layer = d.markup.find((m) => m.photo === sha);
            thumbs.append(this.thumb(sha, layer?.shapes ?? []));
          }
          item.append(thumbs);
        }
        return item;
      }),
    );
    if (!inspection.defects.length) list.append(make("li", { class: "hint" }, [say("no_defects")]));
    const add = one(section, "[data-insp-add-defect]");
    add.hidden = !open || !this.defectForm.hidden;
    if (!open) this.closeDefect();
  }

  /**
   * A stored photo, small, with its markup over it: from this device while it holds the bytes, else the server's copy.
   * @param {string} sha
   * @param {Shape[]} shapes
   */
  thumb(sha, shapes) {
    const box = make("div", { class: "thumb", "data-photo": sha, "data-shapes": String(shapes.length) });
    const image = /** @type {HTMLImageElement} */ (make("img", { alt: "", loading: "lazy" }));
    const svg = newSvg();
    box.append(image, svg);
    const api = document.querySelector('meta[name="shopfloor-api"]')?.getAttribute("content") || "/api/v1";
    const show = (/** @type {string} */ src) => {
      image.addEventListener("load", () => drawShapes(svg, shapes, image.naturalWidth, image.naturalHeight), { once: true });
      image.src = src;
    };
    const held = this.photoUrls.get(sha);
    if (held) show(held);
    else {
      openShopfloorDB()
        .then((db) => db.get("blobs", sha))
        .then((blob) => {
          if (!blob?.data) return show(`${api}/blobs/${sha}`);
          const url = URL.createObjectURL(new Blob([blob.data], { type: blob.mime }));
          this.photoUrls.set(sha, url);
          show(url);
        })
        .catch(() => show(`${api}/blobs/${sha}`));
    }
    return box;
  }

  /**
   * The lot's decision as the defects stand (a final inspection with a plan), else null.
   * @param {Facts} facts
   * @param {DeviceInspection} inspection
   * @returns {{classes: Record<string, {found: number, accept: number, reject: number, accepted: boolean}>, accepted: boolean} | null}
   */
  judgement(facts, inspection) {
    const started = inspection.started;
    if (facts.kind !== "final" || !started) return null;
    const level = String(started.level ?? "II");
    const lot = lotPlan(facts.tables, Number(started.lot_size), started.aqls ?? {}, level, String(started.severity ?? "normal"));
    const plans = "plans" in lot ? lot.plans : pulledPlans(inspection.pulled?.plans);
    if (!plans) return null;
    const found = foundPerClass(inspection.defects);
    try {
      return decide(plans, Object.fromEntries(Object.keys(plans).map((c) => [c, found[c] ?? 0])));
    } catch {
      return null;
    }
  }

  openDefect() {
    const facts = this.facts;
    const form = this.defectForm;
    if (!facts) return;
    form.reset();
    this.photos = [];
    this.showPhotos();
    const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem("type"));
    const first = select.options[0];
    select.replaceChildren(
      first,
      ...facts.catalogue.map((d) => {
        const other = otherName(d);
        const name = `${localName(d)}${other ? ` · ${other}` : ""}`;
        return make("option", { value: d.code, "data-class": d.class ?? "" }, [name]);
      }),
    );
    const unitSelect = /** @type {HTMLSelectElement} */ (form.elements.namedItem("unit"));
    const units = Math.max(1, Number(facts.inspection?.started?.units ?? 1));
    const blank = unitSelect.options[0];
    const numbers = Array.from({ length: units }, (_, i) => String(i + 1));
    unitSelect.replaceChildren(blank, ...numbers.map((n) => make("option", { value: n }, [n])));
    one(form, "[data-save-status]").textContent = "";
    this.problem(form, "");
    form.hidden = false;
    one(this.defectsSection, "[data-insp-add-defect]").hidden = true;
    scrollUnderHeader(form);
  }

  closeDefect() {
    this.closeCamera();
    this.defectForm.hidden = true;
    this.photos = [];
    const add = one(this.defectsSection, "[data-insp-add-defect]");
    add.hidden = this.root.dataset.inspectionStage !== "open";
  }

  /** A type from the catalogue brings its usual class. */
  typeChosen() {
    const form = this.defectForm;
    const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem("type"));
    const cls = select.selectedOptions[0]?.getAttribute("data-class");
    if (!cls) return;
    const radio = form.querySelector(`input[name=class][value="${cls}"]`);
    if (radio instanceof HTMLInputElement) radio.checked = true;
  }

  /**
   * A photo from the camera app, a file, or the in-app camera: downscaled and named here.
   * @param {Blob} file
   */
  async addPhoto(file) {
    const form = this.defectForm;
    if (this.photos.length >= MAX_PHOTOS) return this.problem(form, say("too_many_photos", { n: String(MAX_PHOTOS) }));
    const status = one(form, "[data-save-status]");
    status.dataset.state = "working";
    status.textContent = t("preparing_photo");
    try {
      const attachment = await preparePhoto(file);
      if (this.photos.some((p) => p.attachment.sha256 === attachment.sha256)) return;
      const blob = new Blob([attachment.data], { type: attachment.mime });
      const bitmap = await createImageBitmap(blob);
      const photo = { attachment, url: URL.createObjectURL(blob), width: bitmap.width, height: bitmap.height, shapes: [] };
      bitmap.close();
      this.photos.push(photo);
      this.photoUrls.set(attachment.sha256, photo.url);
      status.textContent = "";
      status.dataset.state = "";
      this.showPhotos();
    } catch (error) {
      status.dataset.state = "error";
      status.textContent = error instanceof Error ? error.message : String(error);
    }
  }

  /** The photos of the defect being written, each with its markup and its buttons. */
  showPhotos() {
    const list = one(this.defectForm, "[data-insp-photos]");
    list.replaceChildren(
      ...this.photos.map((photo) => {
        const svg = newSvg();
        drawShapes(svg, photo.shapes, photo.width, photo.height);
        return make("li", { "data-photo": photo.attachment.sha256, "data-shapes": String(photo.shapes.length) }, [
          make("div", { class: "thumb" }, [make("img", { src: photo.url, alt: "" }), svg]),
          make("div", { class: "photo-buttons" }, [
            make("button", { type: "button", class: "btn", "data-photo-markup": "" }, [say("mark_up")]),
            make("button", { type: "button", class: "btn", "data-photo-remove": "" }, [say("remove")]),
          ]),
        ]);
      }),
    );
    this.defectForm.dataset.photos = String(this.photos.length);
    /** @type {HTMLButtonElement} */ (one(this.defectForm, "[data-insp-snap]")).disabled = this.photos.length >= MAX_PHOTOS;
  }

  /**
   * Draw over one photo (the defect form waits meanwhile).
   * @param {string} sha
   */
  async markPhoto(sha) {
    const photo = this.photos.find((p) => p.attachment.sha256 === sha);
    if (!photo) return;
    this.closeCamera();
    this.defectForm.hidden = true;
    const { url: src, width, height } = photo;
    const shapes = await markUp(this.markupPanel, { src, width, height, shapes: photo.shapes });
    if (shapes) photo.shapes = shapes;
    this.defectForm.hidden = false;
    this.showPhotos();
    one(this.defectForm, `[data-photo="${sha}"]`)?.scrollIntoView({ block: "center" });
  }

  /** The back camera in the page, to take defect photos without leaving it. */
  async openCamera() {
    const form = this.defectForm;
    const note = one(form, "[data-insp-camera-note]");
    const unavailable = cameraUnavailable();
    if (unavailable) {
      note.hidden = false;
      note.textContent = say(`camera_${unavailable}`);
      return;
    }
    const round = ++this.cameraRound;
    const video = /** @type {HTMLVideoElement} */ (one(form, "[data-insp-camera-video]"));
    form.dataset.cameraState = "starting";
    try {
      const camera = await Camera.open(video);
      if (round !== this.cameraRound || form.hidden) return camera.stop();
      this.camera = camera;
    } catch (error) {
      form.dataset.cameraState = "problem";
      note.hidden = false;
      note.textContent = say(`camera_${problemOf(error)}`);
      return;
    }
    note.hidden = true;
    one(form, "[data-insp-camera]").hidden = false;
    one(form, "[data-insp-camera-controls]").hidden = false;
    one(form, "[data-insp-camera-open]").hidden = true;
    form.dataset.cameraState = "on";
    one(form, "[data-insp-camera-controls]").scrollIntoView({ block: "nearest" });
  }

  closeCamera() {
    this.cameraRound++;
    this.camera?.stop();
    this.camera = null;
    const form = this.defectForm;
    one(form, "[data-insp-camera]").hidden = true;
    one(form, "[data-insp-camera-controls]").hidden = true;
    one(form, "[data-insp-camera-open]").hidden = false;
    if (form.dataset.cameraState) form.dataset.cameraState = "off";
  }

  /** Take the camera's picture as it is now. */
  async snap() {
    const video = this.camera?.video;
    if (!video || !video.videoWidth) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d")?.drawImage(video, 0, 0);
    /** @type {Blob | null} */
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    canvas.width = canvas.height = 0; // iOS keeps canvas memory until the size is zero
    if (blob) await this.addPhoto(blob);
  }

  /** @param {SubmitEvent} event */
  async saveDefect(event) {
    event.preventDefault();
    const form = this.defectForm;
    if (this.saving || !form.reportValidity()) return;
    const value = (/** @type {string} */ name) => {
      const field = form.elements.namedItem(name);
      return field instanceof HTMLInputElement || field instanceof HTMLSelectElement || field instanceof HTMLTextAreaElement
        ? field.value.trim()
        : "";
    };
    const cls = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=class]:checked"))?.value ?? "";
    if (!cls) return this.problem(form, say("defect_needs_class"));
    const type = value("type");
    const description = value("description");
    if (!type && !description) return this.problem(form, say("defect_needs_what"));
    /** @type {Record<string, unknown>} */
    const payload = {
      inspection_id: this.id, defect_id: uuid7(), class: cls, location: value("location"),
      count: Number.parseInt(value("count"), 10) || 1,
    };
    if (type) payload.type = type;
    if (description) payload.description = description;
    if (value("unit")) payload.unit = Number.parseInt(value("unit"), 10);
    if (value("note")) payload.note = value("note");
    if (this.photos.length) {
      payload.photos = this.photos.map((p) => p.attachment.sha256);
      const marked = this.photos
        .filter((p) => p.shapes.length)
        .map((p) => ({ photo: p.attachment.sha256, shapes: p.shapes }));
      if (marked.length) payload.markup = marked;
    }
    this.closeCamera();
    const saved = await this.save(form, "inspection.defect_recorded", payload, this.photos.map((p) => p.attachment));
    if (saved) this.closeDefect();
  }

  // --- 4. verdict, signatures --------------------------------------------------------------------

  /**
   * The verdict: computed for a final inspection (the inspector confirms it by signing), else pass or fail.
   * @param {Facts} facts
   * @param {DeviceInspection} inspection
   */
  showComplete(facts, inspection) {
    const form = this.completeForm;
    setValue(form, "inspection_id", this.id);
    const judged = this.judgement(facts, inspection);
    const final = facts.kind === "final";
    const computed = /** @type {HTMLInputElement} */ (one(form, "input[data-insp-computed-verdict]"));
    computed.disabled = !final;
    computed.value = judged ? (judged.accepted ? "pass" : "fail") : "";
    const shown = one(form, "[data-insp-computed]");
    shown.hidden = !final;
    shown.dataset.verdict = computed.value;
    shown.textContent = judged ? say(judged.accepted ? "decision_accept" : "decision_reject") : say("no_plan");
    const choice = one(form, "[data-insp-verdict-choice]");
    choice.hidden = final;
    for (const radio of choice.querySelectorAll("input[name=verdict]")) {
      const input = /** @type {HTMLInputElement} */ (radio);
      input.disabled = final;
      input.required = !final;
    }
  }

  /**
   * Stop a save this screen would not make: a final verdict without a plan, or a co-signer's
   * signature without their badge.
   * @param {Event} event
   */
  checkSigning(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    let problem = "";
    if (form === this.completeForm) {
      const computed = /** @type {HTMLInputElement} */ (one(form, "input[data-insp-computed-verdict]"));
      if (!computed.disabled && !computed.value) problem = say("no_plan");
    } else if (form === this.cosignForm) {
      const signer = one(form, "[data-signer]");
      const state = signer?.dataset.signerState ?? "closed";
      if (state === "closed") problem = say("badge_needed", { step: say(`step_${this.cosignStep()}`) });
    } else {
      return;
    }
    this.problem(form, problem);
    if (!problem) return;
    event.preventDefault();
    event.stopPropagation(); // offline-form.js never sees it
  }

  cosignStep() {
    return /** @type {HTMLInputElement} */ (this.cosignForm.elements.namedItem("step")).value;
  }

  /** @param {DeviceInspection} inspection */
  showCosign(inspection) {
    const step = inspection.cosign ?? CO_SIGNER[String(inspection.started?.kind)] ?? "";
    setValue(this.cosignForm, "inspection_id", this.id);
    setValue(this.cosignForm, "step", step);
    one(this.cosignSection, "[data-insp-cosign-title]").textContent = say(`cosign_${step}`);
    one(this.cosignSection, "[data-insp-cosign-hint]").textContent = say("cosign_hint");
  }

  /** @param {DeviceInspection} inspection */
  showSignatures(inspection) {
    const user = pageUser();
    one(this.signaturesSection, "ol").replaceChildren(
      ...inspection.signatures.map((sig) => {
        const record = sig.record;
        const name = sig.signer ?? (record && user && record.actor_id === user.id ? user.display_name || user.username : "");
        const when = new Date(sig.at).toLocaleString(pageLanguage(), { dateStyle: "short", timeStyle: "short" });
        const parts = [name, when];
        if (record) parts.push(signatureText(record) || t(record.state === "sent" ? "synced" : "pending"));
        const local = record ? (record.state === "sent" ? "sent" : "pending") : "";
        return make("li", { "data-step": sig.step, "data-local": local }, [
          make("strong", {}, [say(`step_${sig.step}`)]),
          ` · ${parts.filter(Boolean).join(" · ")}`,
        ]);
      }),
    );
  }

  /** @param {DeviceInspection} inspection */
  showDone(inspection) {
    const verdict = inspection.completed?.verdict ?? "";
    const line = one(this.doneSection, "[data-insp-verdict]");
    line.dataset.verdict = verdict;
    line.textContent = verdict ? say(`verdict_${verdict}`) : "";
    const waiting = inspection.records.filter((r) => r.state !== "sent").length;
    const sync = one(this.doneSection, "[data-insp-sync]");
    sync.dataset.waiting = String(waiting);
    sync.textContent = waiting ? say("records_waiting", { n: String(waiting) }) : t("synced");
    const report = /** @type {HTMLAnchorElement} */ (one(this.doneSection, "a[data-insp-report]"));
    report.href = (report.dataset.href ?? "/inspections/{id}/report").replace("{id}", this.id);
  }
}

/**
 * Scroll `el` to the top of the screen, below the header that stays there.
 * @param {Element} el
 */
function scrollUnderHeader(el) {
  const header = document.querySelector(".topbar")?.getBoundingClientRect().height ?? 0;
  window.scrollTo({ top: el.getBoundingClientRect().top + window.scrollY - header - 8 });
}

/**
 * The server's plans as pulled (code_letter, sample_size …) in the shape aql.js gives them.
 * @param {Record<string, any> | null | undefined} stored
 * @returns {Record<string, import("../offline/aql.js").SamplingPlan | null> | null}
 */
function pulledPlans(stored) {
  if (!stored || typeof stored !== "object") return null;
  return Object.fromEntries(
    Object.entries(stored).map(([cls, p]) => [
      cls,
      p && {
        aql: String(p.aql), level: "", severity: "", codeLetter: p.code_letter, planLetter: p.plan_letter,
        sampleSize: p.sample_size, accept: p.accept, reject: p.reject, inspectAll: Boolean(p.inspect_all),
      },
    ]),
  );
}

/**
 * A measured or check value's state for the unit tabs: "out" when out of tolerance or failed.
 * @param {Row} item
 * @param {string | undefined} value
 */
function unitState(item, value) {
  if (value === undefined) return "";
  if (item.type === "measure") return toleranceOf(item, value);
  return value === "fail" ? "out" : "in";
}

/**
 * Why the series is at its severity, in words ("2 of the last 5 lots were not accepted").
 * @param {Row} series quality.series
 */
function reasonText(series) {
  const reason = String(series.reason ?? "");
  if (!reason) return "";
  const detail = /** @type {Record<string, any>} */ (series.detail ?? {});
  /** @type {Record<string, string>} */
  const vars = { count: String(Array.isArray(detail.lots) ? detail.lots.length : ""), window: String(detail.window ?? 5) };
  if (detail.score !== undefined) vars.score = String(detail.score);
  const text = say(`reason_${reason}`, vars);
  return text === `reason_${reason}` ? reason : text;
}

/**
 * @param {HTMLFormElement} form
 * @param {string} name
 * @param {string} value
 */
function setValue(form, name, value) {
  const field = form.elements.namedItem(name);
  if (field instanceof HTMLInputElement) field.value = field.defaultValue = value;
}
