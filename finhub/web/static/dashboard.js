// finhub dashboard: refresh the live part every few seconds, send the trigger buttons' POSTs.
"use strict";
(function () {
  const REFRESH_MS = 5000;
  const tokenInput = document.getElementById("token");
  const stored = window.localStorage.getItem("finhub_token") || "";
  if (tokenInput) {
    tokenInput.value = stored;
    tokenInput.addEventListener("change", function () {
      window.localStorage.setItem("finhub_token", tokenInput.value);
    });
  }

  function headers() {
    const token = tokenInput ? tokenInput.value : stored;
    return token ? { Authorization: "Bearer " + token } : {};
  }

  async function refresh() {
    const live = document.getElementById("live");
    if (!live) return;
    try {
      const response = await fetch(window.location.href, { headers: headers(), cache: "no-store" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("live");
      if (fresh) live.innerHTML = fresh.innerHTML;
    } catch (error) {
      // the server is restarting or unreachable: keep the last copy, try again next time
    }
  }

  async function trigger(button) {
    const result = document.getElementById("trigger-result");
    const job = button.dataset.job;
    button.disabled = true;
    try {
      const response = await fetch("/api/jobs/" + encodeURIComponent(job) + "/trigger", {
        method: "POST",
        headers: Object.assign({ "Content-Type": "application/json" }, headers()),
        body: "{}",
      });
      const body = await response.json();
      result.textContent = response.ok
        ? job + ": " + body.message_ids.length + " message(s) enqueued"
        : job + ": " + response.status + " " + JSON.stringify(body.detail);
      result.className = response.ok ? "ok" : "bad";
    } catch (error) {
      result.textContent = job + ": " + error;
      result.className = "bad";
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.trigger");
    if (button) trigger(button);
  });

  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("submit", function (event) {
      event.preventDefault();
      const token = document.getElementById("login-token").value;
      window.localStorage.setItem("finhub_token", token);
      document.cookie = "finhub_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict";
      window.location.reload();
    });
  }

  window.setInterval(refresh, REFRESH_MS);
})();
