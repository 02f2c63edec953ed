// The clinic's queue notices new submissions (issue 24): every 20 seconds it asks the server
// when the newest submission arrived (/clinic/updates: a time, nothing about anyone) and, when
// that is later than what the page shows, says so beside the "Check for new submissions" link
// and in the tab's title. Without JavaScript the link is there all the same.
(function () {
  "use strict";
  var box = document.getElementById("queue-fresh");
  var news = document.getElementById("queue-news");
  if (!box || !news || !window.fetch) { return; }
  var shown = box.getAttribute("data-newest") || "";
  var title = document.title;
  var told = false;
  function check() {
    fetch("/clinic/updates", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || told) { return; }
        if (data.newest && (!shown || Date.parse(data.newest) > Date.parse(shown))) {
          told = true;
          news.textContent = "New submissions have arrived: select the link to see them.";
          box.classList.add("queue-fresh--new");
          document.title = "(new) " + title;
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }
  window.setInterval(check, 20000);
})();
