import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { hashKey } from '../crypto/keys.js'
import { badRequest, notFound } from '../errors.js'

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The page a `validationUrl` points at: it shows what the key asks for and how the owner's
 * administrator approves it. Approval itself is an admin action (it needs ADMIN_TOKEN). The page is
 * reached without authentication, so it is found by the credential's random token (as OVH's
 * `credentialToken`), never by its sequential id.
 */
export const validationPage: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  app.get(
    '/auth/validation',
    {
      schema: {
        hide: true,
        querystring: Type.Object({
          credentialToken: Type.Optional(
            Type.String({ maxLength: 64, description: 'the token of the validationUrl' }),
          ),
          credentialId: Type.Optional(Type.String({ maxLength: 32, description: 'no longer accepted' })),
        }),
      },
    },
    async (request, reply) => {
      const { credentialToken, credentialId } = request.query
      if (credentialToken === undefined) {
        throw badRequest(
          credentialId === undefined
            ? 'Missing parameter: credentialToken; open the validationUrl returned by POST /auth/credential'
            : 'Invalid credentialId: validation pages are no longer found by id; open the validationUrl returned by POST /auth/credential (it carries a credentialToken)',
        )
      }
      const row = await db
        .selectFrom('credentials as c')
        .innerJoin('applications as a', 'a.id', 'c.application_id')
        .select(['c.id', 'c.state', 'c.rules', 'a.name'])
        .where('c.validation_token_hash', '=', hashKey(credentialToken))
        .executeTakeFirst()
      if (!row) throw notFound('This credential does not exist')
      const rules = row.rules
        .map((r) => `<li><code>${escapeHtml(r.method)} ${escapeHtml(r.path)}</code></li>`)
        .join('')
      reply.type('text/html; charset=utf-8')
      return `<!doctype html><html><head><meta charset="utf-8"><title>sms-mirror: approve a consumer key</title></head>
<body><h1>Consumer key request #${row.id}</h1>
<p>Application <b>${escapeHtml(row.name)}</b> asks for these rights (state: <b>${escapeHtml(row.state)}</b>):</p><ul>${rules}</ul>
<p>To approve it, the operator of this sms-mirror runs, with the consumer key the application received:</p>
<pre>curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" $SMS_MIRROR_URL/admin/v1/credentials/&lt;consumerKey&gt;/validate</pre>
</body></html>`
    },
  )
}
