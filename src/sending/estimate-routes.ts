import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ref } from '../http/schema.js'
import { analyse } from './encoding.js'
import { MAX_MESSAGE_LENGTH } from './schema.js'

export const EncodingEnum = Type.Enum(['7bits', 'unicode'], {
  $id: 'sms.EncodingEnum',
  type: 'string',
  description: '7bits or unicode',
})

export const TypeSenderEnum = Type.Enum(['alpha', 'numeric', 'shortcode', 'virtual'], {
  $id: 'sms.TypeSenderEnum',
  type: 'string',
  description: 'one of alpha, numeric, shortcode, virtual',
})

export const JobEstimate = Type.Object(
  {
    characters: Type.Integer({
      description: 'length in septets (7bits) or UTF-16 code units (unicode), STOP mention included',
    }),
    charactersClass: ref(EncodingEnum),
    maxCharactersPerPart: Type.Integer({ description: 'capacity of one part: 160/70 single, 153/67 split' }),
    parts: Type.Integer({ description: 'number of SMS the message is sent as' }),
  },
  { $id: 'sms.JobEstimate', additionalProperties: false },
)

export const EstimateBody = Type.Object(
  {
    message: Type.String({
      minLength: 1,
      maxLength: MAX_MESSAGE_LENGTH,
      description: `a non-empty text of at most ${MAX_MESSAGE_LENGTH} characters`,
    }),
    noStopClause: Type.Boolean({
      description: 'true for a non-commercial message sent without the STOP mention',
    }),
    // Accepted as OVH does; the estimate is the same for every sender type.
    senderType: ref(TypeSenderEnum),
  },
  { additionalProperties: false, description: 'the message to estimate' },
)

export const estimateModels = [EncodingEnum, TypeSenderEnum, JobEstimate]

export const estimateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/sms/estimate',
    {
      schema: {
        tags: ['sms'],
        summary: 'Encoding, length and number of parts of a message',
        body: EstimateBody,
        response: { 200: ref(JobEstimate) },
      },
    },
    async (request) => {
      const { encoding, characters, parts, maxCharactersPerPart } = analyse(request.body.message, {
        noStopClause: request.body.noStopClause,
      })
      return { characters, charactersClass: encoding, maxCharactersPerPart, parts }
    },
  )
}
