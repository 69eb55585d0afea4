// Operator sign-in (password + TOTP code) in the header bar. The session lives in an HttpOnly
// cookie the page never sees; writes echo the CSRF token from the readable twin_csrf cookie.
import { el } from "./shared/dom.js";

const CSRF_COOKIE = "twin_csrf";

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return entry ? decodeURIComponent(entry.slice(CSRF_COOKIE.length + 1)) : null;
}

/** Whether an operator session is (probably) open: its readable CSRF cookie is there. */
export function signedIn() {
  return csrfToken() !== null;
}

/** Headers a write made with the session cookie needs (empty when nobody is signed in). */
export function sessionHeaders() {
  const token = csrfToken();
  return token ? { "X-CSRF-Token": token } : {};
}

async function problemText(response) {
  try { return (await response.json()).detail ?? response.statusText; } catch { return response.statusText; }
}

/** Build the sign-in form in ``element`` (a <form>); resolves once the current state is shown. */
export function initSignIn(element) {
  const ui = {
    name: el("input", { id: "signin-name", name: "username", autocomplete: "username", placeholder: "名前 name", required: true }),
    password: el("input", { id: "signin-password", type: "password", autocomplete: "current-password",
                            placeholder: "パスワード password", required: true }),
    code: el("input", { id: "signin-code", inputMode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}",
                        maxLength: 6, placeholder: "123456", required: true, size: 6 }),
    submit: el("button", { id: "signin-submit", type: "submit", textContent: "サインイン Sign in" }),
    who: el("span", { id: "signin-who" }),
    signOut: el("button", { id: "signin-out", type: "button", textContent: "サインアウト Sign out" }),
    message: el("span", { id: "signin-message", className: "signin-message", role: "status" }),
  };
  const fields = el("span", { className: "signin-fields" }, ui.name, ui.password, ui.code, ui.submit);
  const session = el("span", { className: "signin-session", hidden: true }, ui.who, ui.signOut);
  element.replaceChildren(fields, session, ui.message);

  const show = (me) => {
    fields.hidden = Boolean(me);
    session.hidden = !me;
    ui.who.textContent = me ? `${me.name} (${me.role})` : "";
    element.dataset.signedIn = me ? me.role : "";
  };
  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
  };

  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    ui.submit.disabled = true;
    try {
      const response = await fetch("/api/session", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: ui.name.value.trim(), password: ui.password.value, code: ui.code.value.trim() }),
      });
      if (!response.ok) { say(`${response.status} ${await problemText(response)}`, true); return; }
      const me = await response.json();
      ui.password.value = ui.code.value = "";
      say("");
      show(me);
    } finally {
      ui.submit.disabled = false;
    }
  });
  ui.signOut.addEventListener("click", async () => {
    const response = await fetch("/api/session", { method: "DELETE", headers: sessionHeaders() });
    if (!response.ok && response.status !== 401) { say(`${response.status} ${await problemText(response)}`, true); return; }
    show(null);
  });

  return (async () => {
    if (!signedIn()) { show(null); return; }  // no request, so no 401 in the console
    const response = await fetch("/api/me");
    show(response.ok ? await response.json() : null);
  })();
}
