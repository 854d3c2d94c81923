// Cairn dashboard: follows the API's event stream and redraws the page's
// live regions, and sends the actions to the API. Every page is rendered
// (and escaped) by the server; this script never puts data into markup:
// text goes in with textContent, and a redraw swaps in elements parsed
// from the server's own page (DOMParser runs no script, and the CSP allows
// only this file anyway).
'use strict';

(() => {
  const csrf = document.querySelector('meta[name="cairn-csrf"]')?.content ?? '';
  let source = null;
  let timer = null;
  let refreshing = false;
  let again = false;

  // ---- the API ---------------------------------------------------------

  async function api(method, path, body) {
    const response = await fetch('/api/v1' + path, {
      method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-cairn-csrf': csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const message = data && typeof data.message === 'string' ? data.message : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return data;
  }

  function say(element, message) {
    if (element) element.textContent = message;
  }

  function clearErrors(root) {
    for (const e of root.querySelectorAll('[data-error-for]')) e.textContent = '';
  }

  // ---- live regions ----------------------------------------------------

  function scheduleRefresh() {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, 200);
  }

  // Whether someone is filling in a form of the region: a redraw would
  // take what they typed.
  function editing(region) {
    const active = document.activeElement;
    const focused = active && region.contains(active) && active.matches('input, textarea, select');
    return focused || region.querySelector('form[data-dirty]') !== null;
  }

  document.addEventListener('input', (event) => {
    const form = event.target.closest('form');
    if (form) form.dataset.dirty = 'true';
  });

  async function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(location.href, { credentials: 'same-origin' });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      for (const region of document.querySelectorAll('[data-live-region]')) {
        const fresh = page.getElementById(region.id);
        if (!fresh) continue;
        // Someone typing in a form here keeps it; the redraw waits.
        if (editing(region)) {
          again = true;
          continue;
        }
        const open = [...region.querySelectorAll('details')].map((d) => d.open);
        const adopted = document.adoptNode(fresh);
        region.replaceWith(adopted);
        adopted.querySelectorAll('details').forEach((d, i) => {
          if (open[i]) d.open = true;
        });
      }
      document.documentElement.dataset.refreshed = String(Date.now());
      stopIfFinal();
    } catch (_) {
      // The next event retries.
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        setTimeout(scheduleRefresh, 800);
      }
    }
  }

  const EVENTS = [
    'snapshot', 'execution_started', 'call_submitted', 'attempt_started', 'attempt_failed',
    'call_completed', 'call_replayed', 'execution_resumed', 'replay_diverged', 'flow_retrying',
    'execution_finished', 'lagged',
  ];

  function follow() {
    const live = document.querySelector('[data-live]');
    if (!live || source !== null) return;
    let url = '/api/v1/events';
    if (live.dataset.live === 'execution') {
      if (live.dataset.final === 'true') return;
      url += '?execution=' + encodeURIComponent(live.dataset.exec);
    }
    source = new EventSource(url);
    source.addEventListener('open', () => {
      document.documentElement.dataset.sse = 'open';
    });
    for (const name of EVENTS) {
      if (name !== 'snapshot') source.addEventListener(name, scheduleRefresh);
    }
    // The stream opens with the execution as it stands: only news if it
    // moved since the page was drawn.
    source.addEventListener('snapshot', (event) => {
      let status = null;
      try {
        status = JSON.parse(event.data).status;
      } catch (_) {
        status = null;
      }
      const shown = document.querySelector('[data-live]');
      if (!shown || shown.dataset.status !== status) scheduleRefresh();
    });
  }

  function stopIfFinal() {
    const live = document.querySelector('[data-live]');
    if (source !== null && live && live.dataset.final === 'true') {
      source.close();
      source = null;
      document.documentElement.dataset.sse = 'closed';
    }
  }

  // ---- actions ---------------------------------------------------------

  function executionPath(id, rest) {
    return '/executions/' + encodeURIComponent(id) + rest;
  }

  async function act(button) {
    const id = button.dataset.exec;
    const box = document.querySelector('[data-error-for="action"]');
    say(box, '');
    switch (button.dataset.action) {
      case 'cancel':
      case 'resume':
        await api('POST', executionPath(id, '/' + button.dataset.action), {});
        follow();
        await refresh();
        break;
      case 'replay': {
        const accepted = await api('POST', executionPath(id, '/replay'), {});
        location.assign('/executions/' + encodeURIComponent(accepted.id));
        break;
      }
      case 'replay-from': {
        const accepted = await api('POST', executionPath(id, '/replay'), { from: button.dataset.call });
        location.assign('/executions/' + encodeURIComponent(accepted.id));
        break;
      }
      default:
        break;
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    button.disabled = true;
    act(button)
      .catch((e) => {
        const form = button.closest('form');
        const near = form ? form.querySelector('[data-error-for]') : null;
        say(near || document.querySelector('[data-error-for="action"]'), e.message);
      })
      .finally(() => {
        button.disabled = false;
      });
  });

  // ---- forms -----------------------------------------------------------

  // The field a validation message names: `$.reviewer: ...`,
  // `$["a b"]: ...` or `"reviewer" is a required property`.
  function fieldNamed(form, message) {
    const names = [];
    const dotted = /\$\.([A-Za-z0-9_]+)/.exec(message);
    if (dotted) names.push(dotted[1]);
    const bracketed = /\$\["((?:[^"\\]|\\.)*)"\]/.exec(message);
    if (bracketed) names.push(bracketed[1]);
    const required = /"((?:[^"\\]|\\.)*)" is a required property/.exec(message);
    if (required) names.push(required[1]);
    for (const name of names) {
      const box = [...form.querySelectorAll('[data-error-for]')].find((e) => e.dataset.errorFor === name);
      if (box) return box;
    }
    return form.querySelector('[data-error-for=""]');
  }

  class FieldError extends Error {
    constructor(name, message) {
      super(message);
      this.field = name;
    }
  }

  function fieldValue(field) {
    const name = field.dataset.field;
    const input = field.querySelector('input, select, textarea');
    const text = input.type === 'checkbox' ? null : input.value;
    switch (field.dataset.kind) {
      case 'boolean':
        return { present: true, value: input.checked };
      case 'integer':
      case 'number':
        if (text.trim() === '') return { present: false };
        // Not a number: sent as text, and the server says what it wants.
        return { present: true, value: Number.isNaN(Number(text)) ? text : Number(text) };
      case 'enum':
        if (text === '') return { present: false };
        return { present: true, value: JSON.parse(text) };
      case 'string':
        // An empty field of an object is left out: a required one is then
        // the server's to name. A wait whose value is one string can be "".
        if (text === '' && name !== '') return { present: false };
        return { present: true, value: text };
      default:
        if (text.trim() === '') return { present: false };
        try {
          return { present: true, value: JSON.parse(text) };
        } catch (e) {
          throw new FieldError(name, 'not JSON: ' + e.message);
        }
    }
  }

  // The value a form of fields stands for: an object of its filled-in
  // fields, or the one field's value.
  function formValue(form) {
    const fields = [...form.querySelectorAll('.field')];
    if (form.dataset.shape === 'single') {
      const got = fieldValue(fields[0]);
      return got.present ? got.value : null;
    }
    const value = {};
    for (const field of fields) {
      const got = fieldValue(field);
      if (got.present) value[field.dataset.field] = got.value;
    }
    return value;
  }

  function parseJson(form, name) {
    const text = form.elements[name].value;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new FieldError(name, 'not JSON: ' + e.message);
    }
  }

  async function submit(form) {
    if (form.matches('.wait-form')) {
      const value = formValue(form);
      await api('POST', executionPath(form.dataset.exec, '/input'), { wait: form.dataset.wait, value });
      delete form.dataset.dirty;
      document.activeElement?.blur();
      follow();
      await refresh();
    } else if (form.matches('.replay-override')) {
      const value = parseJson(form, 'output');
      const accepted = await api('POST', executionPath(form.dataset.exec, '/replay'), {
        overrides: { [form.dataset.call]: value },
      });
      location.assign('/executions/' + encodeURIComponent(accepted.id));
    } else if (form.matches('.start-form')) {
      const accepted = await api('POST', '/executions', {
        component: form.dataset.component,
        flow: form.dataset.flow,
        input: formValue(form),
      });
      location.assign('/executions/' + encodeURIComponent(accepted.id));
    }
  }

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!form.matches('.wait-form, .replay-override, .start-form')) return;
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    submit(form)
      .catch((e) => {
        const box = e instanceof FieldError
          ? [...form.querySelectorAll('[data-error-for]')].find((b) => b.dataset.errorFor === e.field)
          : fieldNamed(form, e.message);
        say(box || form.querySelector('[data-error-for]'), e.message);
      })
      .finally(() => {
        if (button) button.disabled = false;
      });
  });

  follow();
})();
