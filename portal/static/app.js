// Progressive enhancement only: every page works without this file.
import { initAll } from './vendor/govuk-frontend-5.14.0/govuk-frontend.min.js'

initAll()

// Every htmx request carries the CSRF token the server checks on state-changing requests.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content
document.body.addEventListener('htmx:configRequest', (event) => {
  if (csrfToken) event.detail.headers['X-CSRFToken'] = csrfToken
})
