// Kernel transport: commands sent with the host's `experimental.invoke` (anywidget >= 0.9; the
// static report's host rejects them: there is no kernel), each with a timeout, all aborted when
// the view goes. The commands and their answers: types.js, imacs_widget/widget/widget.py.

/** How long a command may wait for its answer by default, ms. */
export const PENDING_TIMEOUT_MS = 120000;

/** @typedef {(name: string, msg: any, options: {signal: AbortSignal}) => any} Invoke */

/**
 * @param {Invoke | null} invoke  the host's `experimental.invoke`, or null (no kernel)
 */
export function kernelTransport(invoke) {
  /** @type {Set<AbortController>} commands in flight */
  const requests = new Set();

  /**
   * Send command `name`; resolves with the host's `[answer, buffers]`, rejects without a kernel.
   * @param {string} name
   * @param {any} msg
   * @returns {Promise<any>}
   */
  function send(name, msg, timeoutMs = PENDING_TIMEOUT_MS) {
    if (typeof invoke !== "function") return Promise.reject(new Error("no kernel"));
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    requests.add(ctl);
    let sent;
    try { sent = Promise.resolve(invoke(name, msg, { signal: ctl.signal })); } catch (e) { sent = Promise.reject(e); }
    return sent.finally(() => { clearTimeout(timer); requests.delete(ctl); });
  }

  /**
   * Send command `name`; resolves with the kernel's answer, rejects without a kernel.
   * @param {string} name
   * @param {any} msg
   * @returns {Promise<any>}
   */
  function command(name, msg, timeoutMs = PENDING_TIMEOUT_MS) {
    return send(name, msg, timeoutMs).then((res) => (Array.isArray(res) ? res[0] : res));
  }

  /** Abort every command in flight. @param {Error} reason */
  function close(reason) {
    for (const ctl of requests) ctl.abort(reason);
  }

  return { send, command, close };
}

/** @typedef {ReturnType<typeof kernelTransport>} Kernel */

/**
 * `[answer, buffers]` of a host's reply to `send`.
 * @param {any} res
 * @returns {[any, any[]]}
 */
export function splitReply(res) {
  return Array.isArray(res) ? [res[0], res[1]] : [res, []];
}

/** The text of a rejection (an Error's message, or the value itself). @param {any} err */
export function failure(err) {
  return err && err.message ? err.message : err;
}
