// Progressive enhancement only: every page works without this file.
import { initAll } from './vendor/govuk-frontend-5.14.0/govuk-frontend.min.js'

initAll()

// Content htmx swaps in gets the same GOV.UK behaviour as a page load (an error summary takes focus, and so on).
// (htmx.onLoad also reports the whole body once at start-up: initAll above has done that.)
if (window.htmx) {
  window.htmx.onLoad((content) => {
    if (content !== document.body) initAll({ scope: content })
  })
}

// Every htmx request carries the CSRF token the server checks on state-changing requests.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content
document.body.addEventListener('htmx:configRequest', (event) => {
  if (csrfToken) event.detail.headers['X-CSRFToken'] = csrfToken
})

// Session timeout warning: opens the dialog shortly before the server's idle timeout; "Stay signed in" restarts the
// clock (htmx POST, 204); at zero the sign-out form is sent with reason "idle" so the user is told why.
const timeoutDialog = document.getElementById('session-timeout')
if (timeoutDialog && typeof timeoutDialog.showModal === 'function') {
  const idleSeconds = Number(timeoutDialog.dataset.idleSeconds)
  const warningSeconds = Number(timeoutDialog.dataset.warningSeconds)
  const countdown = timeoutDialog.querySelector('.app-timeout-dialog__countdown')
  const signOutForm = timeoutDialog.querySelector('.app-timeout-dialog__sign-out')
  let warningTimer, tickTimer, deadline
  let signingOut = false
  // Once the page is signing itself out, no poll may reach the server after it (and lose the reason shown).
  document.body.addEventListener('htmx:beforeRequest', (event) => {
    if (signingOut) event.preventDefault()
  })

  const describe = (seconds) => seconds >= 60
    ? `${Math.ceil(seconds / 60)} minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}`
    : `${seconds} second${seconds === 1 ? '' : 's'}`

  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000))
    countdown.textContent = describe(left)
    if (left === 0) {
      clearInterval(tickTimer)
      signingOut = true
      signOutForm.querySelector('input[name="reason"]').value = 'idle'
      signOutForm.submit()
    }
  }

  const warn = () => {
    deadline = Date.now() + warningSeconds * 1000
    tick()
    timeoutDialog.showModal()
    tickTimer = setInterval(tick, 1000)
  }

  const restart = () => {
    clearTimeout(warningTimer)
    clearInterval(tickTimer)
    if (timeoutDialog.open) timeoutDialog.close()
    warningTimer = setTimeout(warn, Math.max(0, idleSeconds - warningSeconds) * 1000)
  }

  // Any htmx request the person causes counts as activity, "Stay signed in" included.
  // A poll on a timer (the bell, live lists: marked data-background-poll) is not activity: the server does not count
  // it either. (A poll replaces its element, so htmx reports the request again on the parent: requestConfig.elt is
  // the source.)
  document.body.addEventListener('htmx:afterRequest', (event) => {
    const source = event.detail.requestConfig?.elt ?? event.detail.elt
    if (event.detail.successful && !source.hasAttribute('data-background-poll')) restart()
  })
  // Escape would close the dialog without telling the server: treat it as "Stay signed in".
  timeoutDialog.addEventListener('cancel', (event) => {
    event.preventDefault()
    timeoutDialog.querySelector('.app-timeout-dialog__extend button').click()
  })
  restart()
}

// A printable page (the SLA's): "Print or save as PDF" opens the browser's print dialog. Its button is hidden until
// this script shows it; without JavaScript the page says to use the browser's own Print command.
document.querySelectorAll('[data-print-page]').forEach((container) => {
  container.hidden = false
  container.querySelector('button')?.addEventListener('click', () => window.print())
})
