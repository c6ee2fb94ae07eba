// A stand-in for the Python side of ImacsWidget's commands (imacs_widget/widget/widget.py),
// for pages without a kernel: it records every command and answers like the kernel does. The
// host (imacs_widget/widget/report_host.js) calls `kernel.invoke(model, name, msg, opts)`.
//
// Used by vitest (js/tests/*.test.js) and inlined into the browser harness pages
// (tests/widget_harness.py), so it imports nothing.

/**
 * @param {{version: number, delayMs?: number, handlers?: Object<string, Function>, pictures?: Object}} options
 *   `handlers[name](model, msg)` replaces the default answer of a command (return the answer,
 *   or `[answer, buffers]` for a command that answers binary buffers, or a promise of either
 *   for a command that runs a while, or throw); the defaults: "_ping" answers the payload version, "_recluster" and
 *   "_select_class" set `_busy`, then the trait, like the kernel (there is no Python here to
 *   recompute the payload), "_hover" answers ok, "_tiles" answers from `pictures` ({thumbs, sources}: atlases
 *   holding every picture, sheets as data: URLs, built by Python's payload.tile_page): the
 *   page is that atlas with the ids not asked for blanked (-1), like a page of the kernel;
 *   "_rename_cluster" / "_annotate_cluster" set the cluster's name / note in a new payload, like
 *   the kernel (which recomputes it); "_intervene" is refused (there is no model here).
 */
export function fakeKernel({ version, delayMs = 0, handlers = {}, pictures = null }) {
  const defaults = {
    _ping: () => ({ ok: true, version }),
    _recluster: (model, msg) => {
      model.set("n_clusters", msg.n_clusters);
      return { ok: true, n_clusters: msg.n_clusters };
    },
    _select_class: (model, msg) => {
      model.set("target_class", msg.target_class);
      return { ok: true, target_class: msg.target_class };
    },
    _hover: () => ({ ok: true }),
    _rename_cluster: (model, msg) => editCluster(model, msg, (c) => { c.name = msg.name || null; }),
    _annotate_cluster: (model, msg) => editCluster(model, msg, (c) => { c.note = msg.note || ""; }),
    _intervene: (model, msg) => ({ ok: false, cluster: msg.cluster, error: "the what-if test failed: the fake kernel runs no model" }),
    _tiles: (model, msg) => {
      const atlas = pictures && pictures[msg.atlas];
      if (!atlas) return { ok: false, error: "tiles request ignored: no pictures" };
      const wanted = new Set(msg.ids);
      return { ok: true, atlas: msg.atlas, page: { ...atlas, ids: atlas.ids.map((id) => (wanted.has(id) ? id : -1)) } };
    },
  };
  /** A new payload whose cluster `msg.cluster` `change` edited (or a refusal). */
  function editCluster(model, msg, change) {
    const payload = JSON.parse(JSON.stringify(model.get("_payload")));
    const c = (payload.clusters || []).find((x) => x.id === msg.cluster);
    if (!c) return { ok: false, cluster: msg.cluster, error: `no cluster ${msg.cluster}` };
    change(c);
    model.set("_payload", payload);
    return { ok: true, cluster: msg.cluster };
  }
  const kernel = {
    /** @type {Array<{name: string, msg: any}>} every command received, in order */
    sent: [],
    invoke(model, name, msg) {
      kernel.sent.push({ name, msg });
      const handler = handlers[name] || defaults[name];
      const slow = name === "_recluster" || name === "_select_class";
      if (slow) model.set("_busy", true);
      return new Promise((resolve, reject) => {
        setTimeout(() => {
          try {
            const answer = handler ? handler(model, msg) : { ok: false, error: `ignored: unknown command ${name}` };
            if (answer && typeof answer.then === "function") { // a command that runs a while
              answer.then((a) => resolve(Array.isArray(a) ? a : [a, []]), reject);
              return;
            }
            resolve(Array.isArray(answer) ? answer : [answer, []]);
          } catch (err) {
            reject(err);
          } finally {
            if (slow) model.set("_busy", false);
          }
        }, slow ? delayMs : 0);
      });
    },
  };
  return kernel;
}
