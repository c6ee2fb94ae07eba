// Tiny DOM helpers. All text goes through textContent; there is no innerHTML anywhere in the
// front end, so class names, model names and warnings can never inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an HTML element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Object<string, any>} [props]  class, text, title, attrs {name: value}, data {key: value}, style {}
 * @param {Array<Node | string | null | undefined | false>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  apply(el, props);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/**
 * Create an SVG element (attrs set with setAttribute; text via textContent).
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Object<string, any>} [attrs]
 * @param {Array<Node | string | null | undefined | false>} [children]
 * @returns {SVGElementTagNameMap[K]}
 */
export function s(tag, attrs = {}, children = []) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** An SVG <title> (native tooltip) with plain text. @param {string} text */
export function svgTitle(text) {
  return s("title", { text });
}

/**
 * @param {HTMLElement} el
 * @param {Object<string, any>} props
 */
function apply(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k === "title") el.title = String(v);
    else if (k === "attrs") for (const [a, av] of Object.entries(v)) { if (av !== undefined && av !== null && av !== false) el.setAttribute(a, String(av)); }
    else if (k === "data") for (const [a, av] of Object.entries(v)) el.dataset[a] = String(av);
    else if (k === "style") for (const [a, av] of Object.entries(v)) el.style.setProperty(a, String(av));
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "innerHTML" || k === "outerHTML") throw new Error("imacs: no innerHTML");
    else /** @type {any} */ (el)[k] = v; // any other property (value, type, hidden, open, ...)
  }
}

/**
 * Replace all children of `el`.
 * @param {Element} el
 * @param {...(Node | string | null | undefined | false)} children
 */
export function replace(el, ...children) {
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}
