// @ts-check
/**
 * Inspections on this device, for the inspection screen (behaviours/inspection.js, loaded only
 * there): the inspection as last pulled from the server (`inspections` store), folded with this
 * device's own records of it (waiting to sync, or sent and still kept) in log order, as the server
 * folds them: the start, each unit's values (a later value of the same unit and item replaces the
 * earlier one), the defects, the verdict and the signatures. Also what the screen needs from the
 * other pulled data: the checklist template for a product and kind, the defect catalogue, a
 * measured value against its tolerance (in decimal, never binary floating point: 10.1 + 0.2 is
 * 10.3 here), and the random cartons and units to pull for a sample.
 */
import { openShopfloorDB } from "./db.js";

export { t as say } from "../i18n.js";

/** The defect classes, gravest first. */
export const CLASSES = ["critical", "major", "minor"];

/** The kinds whose report a second person signs on the inspector's phone, and the step they sign. */
export const CO_SIGNER = /** @type {Record<string, string>} */ ({
  first_piece: "operator",
  pre_production_sample: "factory",
});

/** @typedef {import("./outbox.js").OutboxRecord} OutboxRecord */
/**
 * A shape of the markup drawn over a photo: coordinates are fractions of the photo's width (x, r)
 * and height (y).
 * @typedef {{kind: "circle", x: number, y: number, r: number, color?: string}
 *   | {kind: "arrow", x1: number, y1: number, x2: number, y2: number, color?: string}
 *   | {kind: "text", x: number, y: number, text: string, color?: string}} Shape
 */
/** @typedef {{photo: string, shapes: Shape[]}} MarkupLayer */
/**
 * A defect as this device knows it.
 * @typedef {object} DeviceDefect
 * @property {string} defect_id
 * @property {string} class critical | major | minor
 * @property {string | null} type the catalogue's code
 * @property {string} description
 * @property {string} location
 * @property {number} count
 * @property {number | null} unit
 * @property {string} note
 * @property {string[]} photos SHA-256 of each photo
 * @property {MarkupLayer[]} markup
 * @property {number} at
 * @property {OutboxRecord} [record] this device's record of it
 */
/**
 * A signature of the report.
 * @typedef {object} DeviceSignature
 * @property {string} step inspector | operator | factory
 * @property {number} at
 * @property {string | null} signer who signed, by name, when known
 * @property {string | null} image the drawing's SHA-256
 * @property {OutboxRecord} [record] this device's record of it
 */
/**
 * An inspection as this device knows it now.
 * @typedef {object} DeviceInspection
 * @property {string} inspection_id
 * @property {Record<string, any> | null} started what the start said (this device's record, else the pulled row)
 * @property {Map<number, Record<string, string>>} values each unit's values, item key → "42.15" | "pass" | "fail"
 * @property {DeviceDefect[]} defects in log order
 * @property {{verdict: string, note: string, at: number, image: string | null, record?: OutboxRecord} | null} completed
 * @property {DeviceSignature[]} signatures in log order, the inspector's (the completion) first
 * @property {string} status new | open | passed | failed (or the server's word for one not completed here)
 * @property {string | null} cosign the step still to sign after completion (operator | factory), or null
 * @property {Record<string, any> | null} pulled the row as last pulled
 * @property {OutboxRecord[]} records this device's records of it, in seq order
 */

/**
 * This device's records of inspections (waiting to sync, and those sent and still kept), in seq order.
 * @param {string} [id] only those of this inspection
 * @returns {Promise<OutboxRecord[]>}
 */
export async function inspectionRecords(id) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["outbox", "sent"]);
  const [waiting, sent] = await Promise.all([tx.objectStore("outbox").getAll(), tx.objectStore("sent").getAll()]);
  /** @type {Map<string, OutboxRecord>} */
  const found = new Map();
  for (const record of [...sent, ...waiting]) {
    if (typeof record.type !== "string" || !record.type.startsWith("inspection.")) continue;
    if (id === undefined || record.payload?.inspection_id === id) found.set(record.id, record);
  }
  return [...found.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The inspection's row as last pulled (the store is small: open and recently completed ones).
 * @param {string} id
 * @returns {Promise<Record<string, any> | null>}
 */
export async function pulledInspection(id) {
  const db = await openShopfloorDB();
  const rows = await db.getAll("inspections");
  return rows.find((row) => row.inspection_id === id || row.uid === id || row.id === id) ?? null;
}

/**
 * Integers from a pulled map keyed by unit ("1": {...}) or a list of {unit, values}.
 * @param {any} listed
 * @returns {[number, Record<string, string>][]}
 */
function pulledValues(listed) {
  if (Array.isArray(listed)) {
    return listed
      .filter((m) => m && Number.isInteger(Number(m.unit)) && m.values && typeof m.values === "object")
      .map((m) => [Number(m.unit), m.values]);
  }
  if (listed && typeof listed === "object") {
    return Object.entries(listed)
      .filter(([unit, values]) => Number.isInteger(Number(unit)) && values && typeof values === "object")
      .map(([unit, values]) => [Number(unit), /** @type {Record<string, string>} */ (values)]);
  }
  return [];
}

/**
 * A defect from a payload (this device's record) or a pulled row.
 * @param {Record<string, any>} p
 * @param {number} at
 * @returns {DeviceDefect}
 */
function defectOf(p, at) {
  return {
    defect_id: String(p.defect_id ?? ""),
    class: String(p.class ?? p.severity ?? "minor"),
    type: p.type ?? null,
    description: String(p.description ?? ""),
    location: String(p.location ?? ""),
    count: Number(p.count ?? 1),
    unit: Number.isInteger(p.unit) ? p.unit : null,
    note: String(p.note ?? ""),
    photos: Array.isArray(p.photos) ? p.photos : [],
    markup: Array.isArray(p.markup) ? p.markup : [],
    at,
  };
}

/**
 * An inspection as this device knows it: what was pulled, with this device's own records of it
 * laid over in log order. Null when the device knows nothing of it.
 * @param {string} id
 * @returns {Promise<DeviceInspection | null>}
 */
export async function deviceInspection(id) {
  const [pulled, records] = await Promise.all([id ? pulledInspection(id) : null, id ? inspectionRecords(id) : []]);
  if (!pulled && !records.length) return null;
  /** @type {Record<string, any> | null} */
  let started = pulled ? { ...pulled } : null;
  /** @type {Map<number, Record<string, string>>} */
  const values = new Map();
  for (const [unit, given] of pulledValues(pulled?.values ?? pulled?.measurements)) values.set(unit, { ...given });
  /** @type {Map<string, DeviceDefect>} */
  const defects = new Map();
  for (const d of Array.isArray(pulled?.defects) ? pulled.defects : []) {
    const defect = defectOf(d, Date.parse(d.recorded_at ?? "") || 0);
    defects.set(defect.defect_id, defect);
  }
  /** @type {DeviceInspection["completed"]} */
  let completed = null;
  if (pulled && ["passed", "failed"].includes(pulled.status)) {
    completed = {
      verdict: pulled.verdict ?? (pulled.status === "passed" ? "pass" : "fail"),
      note: String(pulled.note ?? ""),
      at: Date.parse(pulled.completed_at ?? "") || 0,
      image: null,
    };
  }
  /** @type {Map<string, DeviceSignature>} */
  const signatures = new Map();
  for (const s of Array.isArray(pulled?.signatures) ? pulled.signatures : []) {
    signatures.set(String(s.event_id ?? s.step), {
      step: String(s.step),
      at: Date.parse(s.signed_at ?? "") || 0,
      signer: typeof s.signer === "string" ? s.signer : (s.signer?.name ?? null),
      image: s.signature_sha256 ?? null,
    });
  }
  for (const record of records) {
    const p = record.payload ?? {};
    if (record.type === "inspection.started") {
      started = { ...(started ?? {}), ...p };
    } else if (record.type === "inspection.measured") {
      const unit = Number(p.unit);
      values.set(unit, { ...(values.get(unit) ?? {}), .../** @type {Record<string, string>} */ (p.values ?? {}) });
    } else if (record.type === "inspection.defect_recorded") {
      const defect = defectOf(p, record.occurred_at);
      defect.record = record;
      defects.set(defect.defect_id || record.id, defect); // recorded again: the later one stands
    } else if (record.type === "inspection.completed") {
      const image = typeof p.signature_sha256 === "string" ? p.signature_sha256 : null;
      completed = { verdict: String(p.verdict), note: String(p.note ?? ""), at: record.occurred_at, image, record };
      signatures.set(record.id, { step: "inspector", at: record.occurred_at, signer: null, image, record });
    } else if (record.type === "inspection.signed") {
      const step = String(p.step);
      for (const [key, sig] of signatures) if (sig.step === step) signatures.delete(key); // signed again: the later stands
      const image = typeof p.signature_sha256 === "string" ? p.signature_sha256 : null;
      signatures.set(record.id, { step, at: record.occurred_at, signer: record.signature?.name ?? null, image, record });
    }
  }
  if (!started) return null;
  const kind = String(started.kind ?? "");
  let status = String(pulled?.status ?? "open");
  if (completed) status = completed.verdict === "pass" ? "passed" : "failed";
  const step = CO_SIGNER[kind] ?? null;
  const signedSteps = new Set([...signatures.values()].map((s) => s.step));
  return {
    inspection_id: id, started, values, defects: [...defects.values()].sort((a, b) => a.at - b.at), completed,
    signatures: [...signatures.values()].sort((a, b) => a.at - b.at), status,
    cosign: completed && step && !signedSteps.has(step) ? step : null, pulled, records,
  };
}

/**
 * The checklist template for a product and kind: the product's own wins over the plant's.
 * @param {Record<string, any>[]} templates as pulled
 * @param {string | null | undefined} product the product's code
 * @param {string} kind
 * @returns {Record<string, any>[]} the candidates, the one to use first
 */
export function templatesFor(templates, product, kind) {
  const ofKind = templates.filter((t) => t.kind === kind);
  return [...ofKind.filter((t) => product && t.product === product), ...ofKind.filter((t) => !t.product)];
}

/**
 * The defect types an inspector of this product picks from: the product's own, then the plant's.
 * @param {Record<string, any>[]} types as pulled
 * @param {string | null | undefined} product
 * @returns {Record<string, any>[]}
 */
export function catalogueFor(types, product) {
  /** @type {(a: Record<string, any>, b: Record<string, any>) => number} */
  const byName = (a, b) => String(a.code).localeCompare(String(b.code));
  return [
    ...types.filter((t) => product && t.product === product).sort(byName),
    ...types.filter((t) => !t.product).sort(byName),
  ];
}

/**
 * Total defects found per class.
 * @param {DeviceDefect[]} defects
 * @returns {Record<string, number>}
 */
export function foundPerClass(defects) {
  /** @type {Record<string, number>} */
  const found = Object.fromEntries(CLASSES.map((c) => [c, 0]));
  for (const d of defects) found[d.class] = (found[d.class] ?? 0) + (Number.isFinite(d.count) ? d.count : 0);
  return found;
}

// --- decimals ------------------------------------------------------------------------------------

/** @typedef {{units: bigint, places: number}} Decimal a number as an integer count of 10^-places */

/**
 * A typed number ("42.15", "-0,5", ".5") as a decimal; null when it is not one.
 * @param {string | null | undefined} text
 * @returns {Decimal | null}
 */
export function parseDecimal(text) {
  const match = /^([+-]?)(\d*)(?:[.,](\d*))?$/.exec(String(text ?? "").trim());
  if (!match || !(match[2] || match[3])) return null;
  const fraction = match[3] ?? "";
  const units = BigInt(`${match[2] || "0"}${fraction}`);
  return { units: match[1] === "-" ? -units : units, places: fraction.length };
}

/**
 * @param {Decimal} a
 * @param {number} places at least a's
 */
function scaled(a, places) {
  return a.units * 10n ** BigInt(places - a.places);
}

/**
 * a + sign × b.
 * @param {Decimal} a
 * @param {Decimal} b
 * @param {1 | -1} sign
 * @returns {Decimal}
 */
function add(a, b, sign) {
  const places = Math.max(a.places, b.places);
  return { units: scaled(a, places) + BigInt(sign) * scaled(b, places), places };
}

/**
 * -1, 0 or 1 as a is below, equal to or above b.
 * @param {Decimal} a
 * @param {Decimal} b
 */
function compare(a, b) {
  const places = Math.max(a.places, b.places);
  const x = scaled(a, places);
  const y = scaled(b, places);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A decimal as text with its own places ("41.50" stays "41.50").
 * @param {Decimal} d
 */
export function formatDecimal(d) {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.places + 1, "0");
  const whole = d.places ? `${digits.slice(0, -d.places)}.${digits.slice(-d.places)}` : digits;
  return negative ? `-${whole}` : whole;
}

/**
 * A measured value typed as the payload carries it: "42.15" (a comma becomes a point); null
 * when it is not a number.
 * @param {string} text
 */
export function normalValue(text) {
  const d = parseDecimal(text);
  const value = d ? formatDecimal(d) : null;
  // What a record may carry: 9 digits before the point and 6 after at most.
  return value !== null && /^-?\d{1,9}(\.\d{1,6})?$/.test(value) ? value : null;
}

/**
 * The limits of a measured item: nominal − minus .. nominal + plus (either side open when not given).
 * @param {Record<string, any>} item
 * @returns {{low: Decimal | null, high: Decimal | null}}
 */
export function limitsOf(item) {
  const nominal = parseDecimal(item.nominal);
  if (!nominal) return { low: null, high: null };
  const minus = parseDecimal(item.minus);
  const plus = parseDecimal(item.plus);
  return { low: minus ? add(nominal, minus, -1) : null, high: plus ? add(nominal, plus, 1) : null };
}

/**
 * Whether a typed value of a measured item is within its tolerance: "in", "out", or "" (nothing
 * typed, not a number, or no limits to judge it by).
 * @param {Record<string, any>} item
 * @param {string} text
 * @returns {"in" | "out" | "bad" | ""}
 */
export function toleranceOf(item, text) {
  if (!String(text ?? "").trim()) return "";
  const value = parseDecimal(text);
  if (!value) return "bad";
  const { low, high } = limitsOf(item);
  if (!low && !high) return "";
  if ((low && compare(value, low) < 0) || (high && compare(value, high) > 0)) return "out";
  return "in";
}

/**
 * "41.5 – 42.5 mm" (or "≥ 41.5", "≤ 42.5"), "" for an item without limits.
 * @param {Record<string, any>} item
 */
export function limitsText(item) {
  const { low, high } = limitsOf(item);
  const unit = item.unit ? ` ${item.unit}` : "";
  if (low && high) return `${formatDecimal(low)} – ${formatDecimal(high)}${unit}`;
  if (low) return `≥ ${formatDecimal(low)}${unit}`;
  if (high) return `≤ ${formatDecimal(high)}${unit}`;
  return "";
}

// --- the sample to pull --------------------------------------------------------------------------

/**
 * A random whole number from 0 to n − 1, uniform (no modulo bias), from the device's random source.
 * @param {number} n
 */
function randomBelow(n) {
  const limit = Math.floor(0x100000000 / n) * n;
  const word = new Uint32Array(1);
  do crypto.getRandomValues(word);
  while (word[0] >= limit);
  return word[0] % n;
}

/**
 * `k` different numbers from 1..n, drawn at random, in order.
 * @param {number} k
 * @param {number} n
 * @returns {number[]}
 */
export function drawDistinct(k, n) {
  const want = Math.max(0, Math.min(k, n));
  /** @type {Set<number>} */
  const chosen = new Set();
  if (want > n / 2) {
    // Most of them: shuffle the first `want` places of 1..n.
    const all = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = 0; i < want; i++) {
      const j = i + randomBelow(n - i);
      [all[i], all[j]] = [all[j], all[i]];
      chosen.add(all[i]);
    }
  } else {
    while (chosen.size < want) chosen.add(1 + randomBelow(n));
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * Which cartons to open and which units to take from each for a sample of `n` from `packed`
 * pieces in `cartons` cartons: about √cartons cartons (more when they cannot hold the sample),
 * the units shared evenly among them, each a random position in its carton.
 * @param {number} n
 * @param {number} packed
 * @param {number} cartons
 * @returns {{carton: number, units: number[]}[]}
 */
export function drawSample(n, packed, cartons) {
  if (!(n > 0 && packed > 0 && cartons > 0)) return [];
  const perCarton = Math.max(1, Math.ceil(packed / cartons));
  const opened = Math.min(cartons, Math.max(Math.ceil(Math.sqrt(cartons)), Math.ceil(n / perCarton)));
  const chosen = drawDistinct(opened, cartons);
  const share = Math.floor(n / opened);
  let extra = n % opened;
  return chosen.map((carton) => {
    const take = Math.min(perCarton, share + (extra-- > 0 ? 1 : 0));
    return { carton, units: drawDistinct(take, perCarton) };
  });
}
