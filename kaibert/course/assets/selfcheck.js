/* The course's self-check: binds every .kaibert-selfcheck block on the page that is not bound yet.
   No kernel, no network: the answers and the explanations are in the block's markup. */
(function () {
  "use strict";

  function say(li, right, html) {
    var out = li.querySelector(".ks-feedback");
    out.className = "ks-feedback " + (right ? "ks-right" : "ks-wrong");
    out.innerHTML = (right ? "<strong>\u2713 Right.</strong> " : "<strong>\u2717 Not quite.</strong> ") + html;
  }

  function parseNumber(text) {
    // "23,837,184", "1/8", "5e-5", "21.8%" (per cent: the number as typed, in the unit asked for)
    var t = String(text).trim().replace(/[\s,_\u202f]/g, "").replace(/\u2212/g, "-").replace(/%$/, "");
    if (t === "") return NaN;
    var frac = /^(-?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(t);
    if (frac) return parseFloat(frac[1]) / parseFloat(frac[2]);
    return /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? parseFloat(t) : NaN;
  }

  function close(a, b, tolerance) {
    return Math.abs(a - b) <= tolerance + 1e-9 * Math.max(1, Math.abs(b));
  }

  function choose(li, button) {
    li.querySelectorAll(".ks-choice").forEach(function (b) {
      b.classList.remove("ks-picked-right", "ks-picked-wrong");
      b.setAttribute("aria-pressed", "false");
    });
    var right = button.getAttribute("data-correct") === "1";
    button.classList.add(right ? "ks-picked-right" : "ks-picked-wrong");
    button.setAttribute("aria-pressed", "true");
    say(li, right, button.getAttribute("data-why"));
  }

  function check(li) {
    var box = li.querySelector(".ks-number");
    var input = li.querySelector(".ks-input");
    var value = parseNumber(input.value);
    var answer = parseFloat(box.getAttribute("data-answer"));
    var tolerance = parseFloat(box.getAttribute("data-tolerance"));
    if (isNaN(value)) {
      var out = li.querySelector(".ks-feedback");
      out.className = "ks-feedback ks-wrong";
      out.textContent = "Type a number, e.g. 42, 0.125, 1/8 or 5e-5.";
      return;
    }
    if (close(value, answer, tolerance)) {
      say(li, true, box.getAttribute("data-why"));
      return;
    }
    var why = box.getAttribute("data-hint");
    JSON.parse(box.getAttribute("data-mistakes")).forEach(function (m) {
      if (close(value, m[0], tolerance)) why = m[1];
    });
    say(li, false, why);
    li.querySelector(".ks-reveal").hidden = false;
  }

  function reveal(li) {
    var box = li.querySelector(".ks-number");
    var out = li.querySelector(".ks-feedback");
    out.className = "ks-feedback ks-shown";
    out.innerHTML = "<strong>The answer is " + box.getAttribute("data-shown") + ".</strong> " +
      box.getAttribute("data-why");
  }

  function bind(root) {
    root.setAttribute("data-ready", "1");
    root.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !root.contains(button)) return;
      var li = button.closest(".ks-question");
      if (button.classList.contains("ks-choice")) choose(li, button);
      else if (button.classList.contains("ks-check")) check(li);
      else if (button.classList.contains("ks-reveal")) reveal(li);
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.classList.contains("ks-input")) {
        event.preventDefault();
        check(event.target.closest(".ks-question"));
      }
    });
  }

  document.querySelectorAll(".kaibert-selfcheck:not([data-ready])").forEach(bind);
})();
