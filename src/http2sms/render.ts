/**
 * The bodies http2sms answers with, in the six content types OVH's guide lists: always HTTP 200, the
 * status in the body (100 sent; 201 missing, 202 invalid parameter; 241 sender; 401 refused).
 */

export const CONTENT_TYPES = [
  'text/plain',
  'text/html',
  'text/xml',
  'application/xml',
  'text/json',
  'application/json',
] as const
export type ContentType = (typeof CONTENT_TYPES)[number]
export type Outcome = { status: number; message?: string; creditLeft?: string; ids?: number[] }

const HELP =
  'For more informations : https://help.ovhcloud.com/csm/en-gb-sms-sending-via-url-http2sms?id=kb_article_view&sysparm_article=KB0039184'

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  )

export function renderOutcome(contentType: ContentType, outcome: Outcome): string {
  const ok = outcome.status >= 100 && outcome.status < 200
  switch (contentType) {
    case 'text/json':
    case 'application/json':
      return JSON.stringify(
        ok
          ? {
              status: outcome.status,
              creditLeft: outcome.creditLeft,
              SmsIds: (outcome.ids ?? []).map(String),
              smsIds: (outcome.ids ?? []).map(String),
            }
          : { status: outcome.status, message: `${outcome.message}. ${HELP}` },
      )
    case 'text/xml':
    case 'application/xml': {
      const inner = ok
        ? `<status>${outcome.status}</status><creditLeft>${outcome.creditLeft}</creditLeft><smsIds>${(
            outcome.ids ?? []
          )
            .map((id) => `<smsId>${id}</smsId>`)
            .join('')}</smsIds>`
        : `<status>${outcome.status}</status><message>${escapeXml(`${outcome.message}. ${HELP}`)}</message>`
      return `<?xml version="1.0" encoding="UTF-8" ?><response>${inner}</response>`
    }
    case 'text/html': {
      const lines = ok
        ? ['OK', outcome.creditLeft ?? '', ...(outcome.ids ?? []).map(String)]
        : ['KO', outcome.message ?? '']
      return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" ' +
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">' +
        `<head><title>HTTP2SMS</title></head><BODY>${lines.map(escapeXml).join('<br>')}</BODY></html>`
      )
    }
    default:
      return ok
        ? ['OK', outcome.creditLeft ?? '', ...(outcome.ids ?? []).map(String)].join('\n')
        : `KO\n${outcome.message}`
  }
}
