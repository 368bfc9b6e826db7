// The journey report's chart (stats/templates/stats/report.html): entries and conversions
// per day, drawn with the vendored Chart.js (static/vendor/chart.umd.min.js).
(function () {
  "use strict";
  var canvas = document.getElementById("report-chart");
  if (!canvas || typeof window.Chart === "undefined") return;
  function read(name) {
    try { return JSON.parse(canvas.getAttribute(name) || "[]"); } catch (e) { return []; }
  }
  var chart = new window.Chart(canvas, {
    type: "line",
    data: {
      labels: read("data-days"),
      datasets: [
        { label: "Entries", data: read("data-entries"), borderColor: "#4a7bd0", backgroundColor: "rgba(74,123,208,.15)", fill: true, tension: 0.2 },
        { label: canvas.getAttribute("data-conversion-label") || "Conversions", data: read("data-conversions"), borderColor: "#2f9e6a", backgroundColor: "rgba(47,158,106,.15)", fill: true, tension: 0.2 }
      ]
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      interaction: { mode: "index", intersect: false }
    }
  });
  canvas.setAttribute("data-drawn", "true");
  window.journeyReportChart = chart;
})();
