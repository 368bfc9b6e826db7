// Starts the canvas on /journeys/<id>/ from the page's json_script data (no inline script: CSP).
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./canvas.css";
import { configure } from "./api.js";
import { App } from "./App.jsx";

function start() {
  const el = document.getElementById("canvas-boot");
  const root = document.getElementById("canvas-root");
  if (!el || !root) return;
  const boot = JSON.parse(el.textContent);
  configure({ csrf: boot.csrf_token, base: boot.urls.api });
  root.textContent = "";
  createRoot(root).render(<App boot={boot} />);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
