// @ts-check
/**
 * The markup tool of a defect photo (<div data-markup> on the inspection screen, loaded with it):
 * circles, arrows and short texts drawn over the photo with a finger, a glove or a mouse (pointer
 * events), kept as a separate layer: a list of shapes whose coordinates are fractions of the
 * photo's width (x, r) and height (y), as inspection.defect_recorded's `markup` carries them. The
 * photo itself is never touched: pages draw the layer over it as SVG, the PDF with reportlab.
 *
 * `markUp(panel, photo)` shows the photo in the panel and resolves with the shapes when the person
 * taps Done (null on Cancel). A tap with the circle tool makes a circle of a fingertip's size; a
 * drag sizes it. The text tool places the text typed in its field where the photo is tapped.
 * States for people and tests on the panel: data-markup-tool (circle | arrow | text) and
 * data-markup-shapes (how many shapes are drawn).
 */

/** @typedef {import("../offline/inspections.js").Shape} Shape */

const SVG = "http://www.w3.org/2000/svg";
/** At most this many shapes on a photo (the server's limit), and this many characters a text. */
export const MAX_SHAPES = 20;
export const MAX_TEXT = 60;
/** Red: seen on metal, fabric and wood alike; pages draw a shape without a colour in the same red. */
const COLOR = "#e8171f";
/** A tap with the circle tool: a circle this big (a fraction of the photo's width). */
const TAP_RADIUS = 0.06;
/** Smaller than this (a fraction of the photo's width) is a tap, not a drag. */
const TAP = 0.015;

/**
 * Draw `shapes` into `svg` laid over a photo of `width` × `height` pixels (its viewBox: the photo's pixels).
 * @param {SVGSVGElement} svg
 * @param {Shape[]} shapes
 * @param {number} width
 * @param {number} height
 */
export function drawShapes(svg, shapes, width, height) {
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.replaceChildren(...shapes.map((shape) => shapeElement(shape, width, height)));
}

/**
 * @param {string} name
 * @param {Record<string, string | number>} attributes
 */
function svgElement(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

/**
 * One shape in the photo's pixels; strokes wide enough to see on a thumbnail.
 * @param {Shape} shape
 * @param {number} width
 * @param {number} height
 * @returns {SVGElement}
 */
function shapeElement(shape, width, height) {
  const color = shape.color ?? COLOR;
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 90));
  const paint = {
    fill: "none", stroke: color, "stroke-width": stroke, "stroke-linecap": "round", "stroke-linejoin": "round",
  };
  if (shape.kind === "circle") {
    return svgElement("circle", { cx: shape.x * width, cy: shape.y * height, r: Math.max(1, shape.r * width), ...paint });
  }
  if (shape.kind === "arrow") {
    const [x1, y1, x2, y2] = [shape.x1 * width, shape.y1 * height, shape.x2 * width, shape.y2 * height];
    const angle = Math.atan2(y2 - y1, x2 - x1);
    const head = stroke * 5;
    const wing = (/** @type {number} */ turn) =>
      `${x2 - head * Math.cos(angle + turn)},${y2 - head * Math.sin(angle + turn)}`;
    const group = svgElement("g", {});
    group.append(
      svgElement("line", { x1, y1, x2, y2, ...paint }),
      svgElement("polygon", {
        points: `${x2},${y2} ${wing(0.45)} ${wing(-0.45)}`, fill: color, stroke: color, "stroke-width": stroke / 2,
      }),
    );
    return group;
  }
  const text = svgElement("text", {
    x: shape.x * width, y: shape.y * height, fill: color, stroke: "#fff", "stroke-width": stroke / 1.5,
    "paint-order": "stroke", "font-size": Math.round(height / 14), "font-weight": 700, "font-family": "sans-serif",
    "dominant-baseline": "middle",
  });
  text.textContent = shape.text;
  return text;
}

/** @param {number} value */
const round = (value) => Math.round(Math.min(1, Math.max(0, value)) * 10000) / 10000;

/** @type {WeakMap<HTMLElement, Markup>} */
const tools = new WeakMap();

/**
 * Open the tool over a photo; resolves with the shapes on Done, null on Cancel.
 * @param {HTMLElement} panel the [data-markup] element
 * @param {{src: string, width: number, height: number, shapes: Shape[]}} photo
 * @returns {Promise<Shape[] | null>}
 */
export function markUp(panel, photo) {
  let tool = tools.get(panel);
  if (!tool) {
    tool = new Markup(panel);
    tools.set(panel, tool);
  }
  return tool.open(photo);
}

class Markup {
  /** @param {HTMLElement} panel */
  constructor(panel) {
    this.panel = panel;
    this.image = /** @type {HTMLImageElement} */ (panel.querySelector("[data-markup-photo]"));
    this.svg = /** @type {SVGSVGElement} */ (panel.querySelector("svg[data-markup-svg]"));
    this.textField = /** @type {HTMLInputElement} */ (panel.querySelector("[data-markup-text]"));
    this.textLabel = /** @type {HTMLElement} */ (panel.querySelector("[data-markup-text-field]") ?? this.textField);
    this.hint = /** @type {HTMLElement | null} */ (panel.querySelector("[data-markup-hint]"));
    this.undoButton = /** @type {HTMLButtonElement} */ (panel.querySelector("[data-markup-undo]"));
    /** @type {Shape[]} */
    this.shapes = [];
    /** @type {Shape | null} */
    this.draft = null;
    /** @type {{x: number, y: number} | null} */
    this.from = null;
    this.width = 1;
    this.height = 1;
    this.tool = "circle";
    /** @type {((shapes: Shape[] | null) => void) | null} */
    this.finish = null;

    this.textField.maxLength = MAX_TEXT;
    for (const button of panel.querySelectorAll("[data-markup-tool]")) {
      button.addEventListener("click", () => this.choose(button.getAttribute("data-markup-tool") ?? "circle"));
    }
    this.undoButton.addEventListener("click", () => {
      this.shapes.pop();
      this.show();
    });
    panel.querySelector("[data-markup-done]")?.addEventListener("click", () => this.close(this.shapes));
    panel.querySelector("[data-markup-cancel]")?.addEventListener("click", () => this.close(null));
    this.svg.addEventListener("pointerdown", (event) => this.down(event));
    this.svg.addEventListener("pointermove", (event) => this.move(event));
    this.svg.addEventListener("pointerup", () => this.up());
    this.svg.addEventListener("pointercancel", () => {
      this.draft = this.from = null;
      this.show();
    });
  }

  /**
   * @param {{src: string, width: number, height: number, shapes: Shape[]}} photo
   * @returns {Promise<Shape[] | null>}
   */
  open(photo) {
    this.finish?.(null); // one photo at a time
    this.image.src = photo.src;
    this.width = photo.width;
    this.height = photo.height;
    this.shapes = photo.shapes.map((shape) => ({ ...shape }));
    this.draft = this.from = null;
    this.textField.value = "";
    this.choose("circle");
    this.panel.hidden = false;
    // The photo at the top of the screen, below the header that stays there.
    const header = document.querySelector(".topbar")?.getBoundingClientRect().height ?? 0;
    window.scrollTo({ top: this.panel.getBoundingClientRect().top + window.scrollY - header - 8 });
    return new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  /** @param {Shape[] | null} shapes */
  close(shapes) {
    this.panel.hidden = true;
    this.image.removeAttribute("src");
    const finish = this.finish;
    this.finish = null;
    finish?.(shapes ? shapes.map((shape) => ({ ...shape })) : null);
  }

  /** @param {string} tool circle | arrow | text */
  choose(tool) {
    this.tool = tool;
    this.panel.dataset.markupTool = tool;
    for (const button of this.panel.querySelectorAll("[data-markup-tool]")) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-markup-tool") === tool));
    }
    this.textLabel.hidden = tool !== "text";
    if (tool === "text") this.textField.focus();
    this.say("");
  }

  /**
   * Where the pointer is, as fractions of the photo.
   * @param {PointerEvent} event
   */
  at(event) {
    const box = this.svg.getBoundingClientRect();
    return { x: round((event.clientX - box.left) / box.width), y: round((event.clientY - box.top) / box.height), box };
  }

  /** @param {PointerEvent} event */
  down(event) {
    if (event.button > 0) return;
    event.preventDefault();
    if (this.shapes.length >= MAX_SHAPES) return this.say(this.panel.dataset.fullText ?? "");
    const { x, y } = this.at(event);
    if (this.tool === "text") {
      const text = this.textField.value.trim().slice(0, MAX_TEXT);
      if (!text) {
        this.textField.focus();
        return this.say(this.panel.dataset.textFirst ?? "");
      }
      this.shapes.push({ kind: "text", x, y, text });
      this.textField.value = "";
      return this.show();
    }
    this.svg.setPointerCapture?.(event.pointerId);
    this.from = { x, y };
    this.draft = this.tool === "arrow" ? { kind: "arrow", x1: x, y1: y, x2: x, y2: y } : { kind: "circle", x, y, r: 0 };
    this.show();
  }

  /** @param {PointerEvent} event */
  move(event) {
    const { draft, from } = this;
    if (!draft || !from) return;
    const { x, y, box } = this.at(event);
    if (draft.kind === "arrow") {
      draft.x2 = x;
      draft.y2 = y;
    } else if (draft.kind === "circle") {
      // The radius is a fraction of the photo's width, whichever way the finger moved.
      const dx = (x - from.x) * box.width;
      const dy = (y - from.y) * box.height;
      draft.r = round(Math.hypot(dx, dy) / box.width);
    }
    this.show();
  }

  up() {
    const { draft } = this;
    this.draft = this.from = null;
    if (!draft) return;
    if (draft.kind === "circle") {
      this.shapes.push({ ...draft, r: draft.r < TAP ? TAP_RADIUS : draft.r });
    } else if (draft.kind === "arrow" && Math.hypot(draft.x2 - draft.x1, draft.y2 - draft.y1) >= TAP) {
      this.shapes.push(draft);
    }
    this.show();
  }

  show() {
    drawShapes(this.svg, this.draft ? [...this.shapes, this.draft] : this.shapes, this.width, this.height);
    this.panel.dataset.markupShapes = String(this.shapes.length);
    this.undoButton.disabled = !this.shapes.length;
  }

  /** @param {string} text */
  say(text) {
    if (!this.hint) return;
    this.hint.textContent = text;
    this.hint.hidden = !text;
  }
}
