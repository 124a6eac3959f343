import { Type } from 'typebox'
import { ref } from '../http/schema.js'

/** Bounds of one receiver list (documented in the README). */
export const MAX_CSV_BYTES = 1_048_576
export const MAX_SLOT_RECORDS = 1000
export const MAX_SLOTS = 50

export const Receiver = Type.Object(
  {
    autoUpdate: Type.Boolean({ description: 'refetch csvUrl before each use' }),
    canAutoUpdate: Type.Boolean({ readOnly: true, description: 'whether the list came from a csvUrl' }),
    datetime: Type.String({ format: 'date-time', readOnly: true }),
    description: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
    records: Type.Integer({ readOnly: true, description: 'numbers in the list' }),
    slotId: Type.Integer({ readOnly: true }),
  },
  { $id: 'sms.Receiver', additionalProperties: false },
)

export const ReceiverCreate = Type.Object(
  {
    autoUpdate: Type.Boolean({ description: 'true or false' }),
    csvUrl: Type.Optional(
      Type.String({ maxLength: 2048, description: 'http(s) URL of a CSV file, numbers in its first column' }),
    ),
    description: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
    documentId: Type.Optional(
      Type.String({
        maxLength: 100,
        description:
          'id of a CSV uploaded at /me/document (POST /me/document, then PUT the file to its putUrl); or give csvUrl',
      }),
    ),
    slotId: Type.Integer({ minimum: 1, maximum: MAX_SLOTS, description: `1 to ${MAX_SLOTS}` }),
  },
  { additionalProperties: false },
)

/** PUT body: sms.Receiver, every field optional; only description and autoUpdate change. */
export const ReceiverUpdate = Type.Partial(
  Type.Object({
    autoUpdate: Type.Boolean({ description: 'true or false' }),
    canAutoUpdate: Type.Boolean({ description: 'read-only (ignored)' }),
    datetime: Type.String({ format: 'date-time', description: 'read-only (ignored)' }),
    description: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
    records: Type.Integer({ description: 'read-only (ignored)' }),
    slotId: Type.Integer({ description: 'read-only (ignored)' }),
  }),
  { additionalProperties: false },
)

export const CleanBody = Type.Object(
  {
    freemium: Type.Boolean({
      description: 'true or false (no HLR lookups here: cleaning is free either way)',
    }),
    priceOnly: Type.Boolean({ description: 'true: only say what cleaning would cost, change nothing' }),
  },
  { additionalProperties: false },
)

export const ReceiversAsynchronousCleanReport = Type.Object(
  { taskId: Type.Integer(), totalCreditsRemoved: Type.Number() },
  { $id: 'sms.ReceiversAsynchronousCleanReport', additionalProperties: false },
)

export const TodoGeneralPublicFunctionsEnum = Type.Enum(['cleanSmsReceivers'], {
  $id: 'sms.TodoGeneralPublicFunctionsEnum',
  type: 'string',
})
export const TaskStatusEnum = Type.Enum(['doing', 'done', 'error', 'pause', 'todo'], {
  $id: 'telephony.TaskStatusEnum',
  type: 'string',
  description: 'one of doing, done, error, pause, todo',
})
export const TodoGeneralPublicStepsEnum = Type.Enum(
  ['checkOrder', 'createHlrs', 'finishing', 'sendMailReport', 'starting', 'waitForHlrs'],
  { $id: 'sms.TodoGeneralPublicStepsEnum', type: 'string' },
)

export const Task = Type.Object(
  {
    function: ref(TodoGeneralPublicFunctionsEnum, { readOnly: true }),
    status: ref(TaskStatusEnum, { readOnly: true }),
    step: ref(TodoGeneralPublicStepsEnum, { readOnly: true }),
    taskId: Type.Integer({ readOnly: true }),
  },
  { $id: 'sms.Task', additionalProperties: false },
)

export const receiverModels = [
  Receiver,
  ReceiversAsynchronousCleanReport,
  TodoGeneralPublicFunctionsEnum,
  TaskStatusEnum,
  TodoGeneralPublicStepsEnum,
  Task,
]
