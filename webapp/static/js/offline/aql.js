// @ts-check
/**
 * Single sampling plans of ISO 2859-1:1999 (= GB/T 2828.1-2012) on the device, offline: what lot
 * size, AQL, inspection level and severity ask to inspect, and how the lot is judged. The tables are
 * the server's (webapp/domain/aql.py tables(), pulled like the rest); this module only follows them,
 * as aql.py does: Table 1 gives the code letter, the master table of the severity gives the plan,
 * its arrows followed (↓ the first plan below, ↑ the first above, with that row's sample size).
 * tests/unit/test_aql_js.py checks it against aql.py for every lot size row, level, AQL and severity.
 */

/** A master table cell: [Ac, Re], an arrow, or null where the standard prints nothing. */
/** @typedef {[number, number] | "down" | "up" | null} Cell */
/**
 * One master table (2-A normal, 2-B tightened, 2-C reduced).
 * @typedef {object} MasterTable
 * @property {string[]} letters code letters, top to bottom
 * @property {number[]} sample_sizes the sample size of each letter
 * @property {Cell[][]} cells [letter][AQL]
 */
/**
 * The tables as aql.py's tables() sends them.
 * @typedef {object} AqlTables
 * @property {string} standard
 * @property {string[]} aqls as printed: "0.010" … "1000"
 * @property {string[]} levels S-1 … S-4, I, II, III
 * @property {string[]} severities normal, tightened, reduced
 * @property {Array<[number, number | null]>} lot_sizes Table 1's rows: [low, high] (null: and over)
 * @property {Record<string, string[]>} code_letters Table 1: level -> the code letter of each row
 * @property {Record<string, MasterTable>} master severity -> its master table
 */
/**
 * A single sampling plan. When the sample size reaches the lot size the whole lot is inspected
 * (inspectAll) and judged with the same Ac and Re; sampleSize stays the table's.
 * @typedef {object} SamplingPlan
 * @property {string} aql as printed ("0" for a zero-acceptance defect class)
 * @property {string} level
 * @property {string} severity
 * @property {string} codeLetter from Table 1
 * @property {string} planLetter the row whose plan is used, after the arrows
 * @property {number} sampleSize
 * @property {number} accept Ac
 * @property {number} reject Re
 * @property {boolean} inspectAll
 */
/**
 * A lot's judgement: each class is rejected when its count reaches Re, the lot when any class is.
 * @typedef {object} LotDecision
 * @property {"accepted" | "rejected"} lot
 * @property {boolean} accepted
 * @property {string[]} rejectedClasses
 * @property {Record<string, ClassDecision>} classes
 */
/**
 * @typedef {object} ClassDecision
 * @property {"accepted" | "rejected"} decision
 * @property {boolean} accepted
 * @property {number} found
 * @property {number} accept
 * @property {number} reject
 */

/** A question the tables cannot answer; `code` names the input at fault (lot_size, aql, level, severity, found). */
export class AqlError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "AqlError";
    this.code = code;
  }
}

const AQL_TEXT = /^[0-9]+(\.[0-9]+)?$/;

/**
 * A decimal's digits without leading or trailing zeros ("2.50" and "2.5" -> "2.5", "0.010" -> "0.01"),
 * so that AQLs compare as numbers without floating point.
 * @param {string} text digits with at most one point
 */
function decimalKey(text) {
  const [whole, fraction = ""] = text.split(".");
  const integer = whole.replace(/^0+(?=[0-9])/, "");
  const decimals = fraction.replace(/0+$/, "");
  return decimals ? `${integer}.${decimals}` : integer;
}

/**
 * The AQL as written: a string of digits with at most one point (spaces around ignored), or a number.
 * @param {unknown} aql
 * @returns {string | null} null when it is no such thing
 */
function aqlText(aql) {
  const text = typeof aql === "string" ? aql.trim() : typeof aql === "number" ? String(aql) : "";
  return AQL_TEXT.test(text) ? text : null;
}

/**
 * The AQL as the tables print it ("2.50" -> "2.5"); throws AqlError("aql") when it is not one of theirs.
 * @param {AqlTables} tables
 * @param {unknown} aql
 * @returns {string}
 */
export function normaliseAql(tables, aql) {
  const text = aqlText(aql);
  if (text === null) throw new AqlError("aql", `An AQL is a number such as 2.5, not ${JSON.stringify(aql)}.`);
  const printed = tables.aqls.find((candidate) => decimalKey(candidate) === decimalKey(text));
  if (printed === undefined) {
    throw new AqlError("aql", `AQL ${text} is not in the ISO 2859-1 tables: use one of ${tables.aqls.join(", ")}.`);
  }
  return printed;
}

/**
 * The sample size code letter of Table 1.
 * @param {AqlTables} tables
 * @param {unknown} lotSize
 * @param {unknown} [level]
 * @returns {string}
 */
export function codeLetter(tables, lotSize, level = "II") {
  if (typeof lotSize !== "number" || !Number.isSafeInteger(lotSize) || lotSize < 2) {
    throw new AqlError("lot_size", `A lot size is a whole number of items, 2 or more, not ${JSON.stringify(lotSize)}.`);
  }
  if (typeof level !== "string" || !tables.levels.includes(level)) {
    throw new AqlError("level", `Inspection level ${JSON.stringify(level)} is not one of ${tables.levels.join(", ")}.`);
  }
  const row = tables.lot_sizes.findIndex(([, high]) => high === null || lotSize <= high);
  return tables.code_letters[level][row];
}

/**
 * @param {AqlTables} tables
 * @param {unknown} severity
 * @returns {MasterTable}
 */
function masterTable(tables, severity) {
  if (typeof severity !== "string" || !tables.severities.includes(severity)) {
    throw new AqlError("severity", `Inspection severity ${JSON.stringify(severity)} is not one of ${tables.severities.join(", ")}.`);
  }
  return tables.master[severity];
}

/**
 * Follow a master table's arrows from a code letter's cell to a plan.
 * @param {MasterTable} master
 * @param {string} letter
 * @param {number} column the AQL's index
 * @returns {{planLetter: string, sampleSize: number, accept: number, reject: number}}
 */
function follow(master, letter, column) {
  let row = master.letters.indexOf(letter);
  for (;;) {
    const cell = row >= 0 && row < master.letters.length ? master.cells[row][column] : null;
    if (Array.isArray(cell)) {
      return { planLetter: master.letters[row], sampleSize: master.sample_sizes[row], accept: cell[0], reject: cell[1] };
    }
    if (cell === null) throw new Error(`the tables lead nowhere from ${letter} at AQL column ${column}`);
    row += cell === "down" ? 1 : -1;
  }
}

/**
 * The single sampling plan for a lot (aql.py sampling_plan()).
 * @param {AqlTables} tables pulled from the server
 * @param {unknown} lotSize number of items in the lot, 2 or more
 * @param {unknown} aql "2.5", "2.50", 2.5 …
 * @param {unknown} [level] S-1 … S-4, I, II (default), III
 * @param {unknown} [severity] normal (default), tightened, reduced
 * @returns {SamplingPlan}
 */
export function samplingPlan(tables, lotSize, aql, level = "II", severity = "normal") {
  const letter = codeLetter(tables, lotSize, level);
  const printed = normaliseAql(tables, aql);
  const master = masterTable(tables, severity);
  const plan = follow(master, letter, tables.aqls.indexOf(printed));
  return {
    aql: printed,
    level: /** @type {string} */ (level),
    severity: /** @type {string} */ (severity),
    codeLetter: letter,
    ...plan,
    inspectAll: plan.sampleSize >= /** @type {number} */ (lotSize),
  };
}

/**
 * Whether a defect class's AQL means zero acceptance: null, undefined or 0.
 * @param {unknown} aql
 */
function isZero(aql) {
  if (aql === null || aql === undefined) return true;
  const text = aqlText(aql);
  return text !== null && decimalKey(text) === "0";
}

/**
 * The plan of each defect class (aql.py class_plans()): an AQL of 0 (or null) is zero acceptance,
 * checked on the largest sample the other classes draw (accept 0, reject 1); when no class has an
 * AQL above 0 those classes get null (decide() rejects on any defect; the sample size is the caller's).
 * @param {AqlTables} tables
 * @param {unknown} lotSize
 * @param {Record<string, unknown>} aqls class -> AQL, e.g. {critical: "0", major: "2.5", minor: "4.0"}
 * @param {unknown} [level]
 * @param {unknown} [severity]
 * @returns {Record<string, SamplingPlan | null>}
 */
export function classPlans(tables, lotSize, aqls, level = "II", severity = "normal") {
  codeLetter(tables, lotSize, level);
  masterTable(tables, severity);
  /** @type {Record<string, SamplingPlan | null>} */
  const plans = {};
  for (const [name, aql] of Object.entries(aqls)) {
    try {
      plans[name] = isZero(aql) ? null : samplingPlan(tables, lotSize, aql, level, severity);
    } catch (error) {
      if (error instanceof AqlError) throw new AqlError(error.code, `Defect class ${name}: ${error.message}`);
      throw error;
    }
  }
  /** @type {SamplingPlan | null} */
  let largest = null;
  for (const plan of Object.values(plans)) {
    if (plan && (!largest || plan.sampleSize > largest.sampleSize)) largest = plan;
  }
  if (!largest) return plans;
  const zero = { ...largest, aql: "0", accept: 0, reject: 1 };
  return Object.fromEntries(Object.entries(plans).map(([name, plan]) => [name, plan ?? zero]));
}

/**
 * Judge a lot (aql.py decide()): a class is rejected when its count reaches Re, the lot when any
 * class is. A class without a count found none; a null plan rejects on any defect.
 * @param {Record<string, SamplingPlan | null>} plans
 * @param {Record<string, unknown>} found class -> nonconforming items (or nonconformities) found
 * @returns {LotDecision}
 */
export function decide(plans, found) {
  const unknown = Object.keys(found).filter((name) => !Object.hasOwn(plans, name)).sort();
  if (unknown.length) {
    throw new AqlError("found", `Defects were counted for classes without a plan: ${unknown.join(", ")}.`);
  }
  /** @type {Record<string, ClassDecision>} */
  const classes = {};
  for (const [name, plan] of Object.entries(plans)) {
    const count = Object.hasOwn(found, name) ? found[name] : 0;
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      throw new AqlError("found", `The count of ${name} defects is a whole number, 0 or more, not ${JSON.stringify(count)}.`);
    }
    const [accept, reject] = plan ? [plan.accept, plan.reject] : [0, 1];
    const accepted = count < reject;
    classes[name] = { decision: accepted ? "accepted" : "rejected", accepted, found: count, accept, reject };
  }
  const rejectedClasses = Object.keys(classes).filter((name) => !classes[name].accepted);
  return { lot: rejectedClasses.length ? "rejected" : "accepted", accepted: !rejectedClasses.length, rejectedClasses, classes };
}
