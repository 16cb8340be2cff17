// Security keys and passkeys on the login, security and reverify pages. A button with data-webauthn-begin and
// data-webauthn-finish (URLs) runs one ceremony: begin -> navigator.credentials.create()/get() -> finish, then
// follows the "redirect" the server answers. The server speaks base64url; the browser API wants ArrayBuffers.
(function () {
  "use strict";

  function toBuffer(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
    return { publicKey: options };
  }

  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "Unexpected answer from the server." }; }
    if (!response.ok) {
      if (data.redirect) window.location.assign(data.redirect);
      throw new Error(data.error || "The server refused the request.");
    }
    return data;
  }

  async function run(button) {
    const status = document.getElementById(button.dataset.webauthnStatus || "webauthn-status");
    const say = (text) => { if (status) status.textContent = text; };
    if (!window.PublicKeyCredential) { say("This browser does not support security keys."); return; }
    button.disabled = true;
    try {
      const registering = button.dataset.webauthn === "register";
      const options = await post(button.dataset.webauthnBegin);
      say("Follow your browser's prompt: touch your key or confirm your passkey.");
      const credential = registering
        ? await navigator.credentials.create(creationOptions(options))
        : await navigator.credentials.get(requestOptions(options));
      const body = { credential: credentialJSON(credential) };
      if (registering) {
        const name = document.getElementById("webauthn-name");
        body.name = name ? name.value : "";
      }
      if (button.dataset.webauthnNext) body.next = button.dataset.webauthnNext;
      const result = await post(button.dataset.webauthnFinish, body);
      window.location.assign(result.redirect || "/");
    } catch (error) {
      // NotAllowedError: the user cancelled or the prompt timed out; anything else comes from the server.
      say(error.name === "NotAllowedError" ? "Cancelled or timed out. Try again." : error.message);
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-webauthn]");
    if (button) { event.preventDefault(); run(button); }
  });
})();
