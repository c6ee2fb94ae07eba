// anywidget entry point of imacs_widget.ImacsWidget (bundled to imacs_widget/static/widget.js).
import "./widget.css";
import { createApp } from "./app.js";

/** @param {{ model: any, el: HTMLElement }} args */
function render({ model, el }) {
  const app = createApp(el, model);
  return () => app.destroy();
}

export default { render };
