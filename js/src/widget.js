// anywidget entry point of imacs_widget.ImacsWidget (bundled to imacs_widget/static/widget.js).
import "./widget.css";
import { createApp } from "./app.js";

/**
 * @param {{ model: any, el: HTMLElement, experimental?: { invoke?: import("./kernel.js").Invoke } }} args
 *   `experimental.invoke(name, msg, {signal})` sends a command to the kernel (anywidget >= 0.9;
 *   the static report's host rejects it: there is no kernel)
 */
function render({ model, el, experimental }) {
  const invoke = experimental && typeof experimental.invoke === "function" ? experimental.invoke : null;
  const app = createApp(el, model, { invoke });
  return () => app.destroy();
}

export default { render };
