// Which numbers and charts of a rendered widget do not say what they measure. Used by vitest
// (js/tests/glossary.test.js, jsdom) and by the browser tests (tests/widget_harness.py reads
// this file and runs `unexplained` in the page), so it imports nothing.
//
// A "number or chart" is an <svg>, a <canvas>, a segment tile, or an element with a text node
// of its own that holds a digit. Each must lie inside an element marked data-imacs-measure
// (js/src/glossary.js explain()) whose tooltip is not empty: its title, or an SVG's leading
// <title>. Skipped: form controls (their labels are the settings), the hover preview (itself
// the explanation of a tile) and the "How to read this" guide (prose).

/**
 * @param {Element} root    the widget's root
 * @param {(el: Element) => boolean} [visible]   whether an element is on screen
 * @returns {{checked: number, measured: number, bad: string[]}}  elements checked, elements
 *   marked, and a description of each that has no tooltip
 */
export function unexplained(root, visible = () => true) {
  const skip = "select, option, input, textarea, [data-imacs-view='source'], [data-imacs-guide]";
  let checked = 0;
  const bad = [];
  for (const el of root.querySelectorAll("*")) {
    if (el.closest(skip) || !visible(el)) continue;
    const tag = el.tagName.toLowerCase();
    if (tag === "title" || tag === "style") continue;
    const chart = tag === "svg" || tag === "canvas" || el.classList.contains("imacs-tile");
    const digit = [...el.childNodes].some((n) => n.nodeType === 3 && /\d/.test(n.textContent || ""));
    if (!chart && !digit) continue;
    checked += 1;
    const m = el.closest("[data-imacs-measure]");
    const svgTitle = m && m.firstElementChild && m.firstElementChild.tagName.toLowerCase() === "title" ? m.firstElementChild.textContent : "";
    const tip = m ? (m.getAttribute("title") || svgTitle || "") : "";
    if (!tip.trim()) bad.push(`<${tag} class="${el.getAttribute("class") || ""}">${(el.textContent || "").slice(0, 60)}`);
  }
  return { checked, measured: root.querySelectorAll("[data-imacs-measure]").length, bad };
}
