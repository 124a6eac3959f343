import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/**
 * The database as the application sees it: one interface per table, snake_case like the columns.
 * Credits are integer hundredths of a credit (`bigint`, parsed to `number` by both drivers).
 */
export interface Database {
  owners: OwnersTable
  accounts: AccountsTable
  sms_users: SmsUsersTable
  applications: ApplicationsTable
  credentials: CredentialsTable
  service_accounts: ServiceAccountsTable
  oauth_tokens: OauthTokensTable
  credit_ledger: CreditLedgerTable
  senders: SendersTable
  outgoing: OutgoingTable
  outgoing_events: OutgoingEventsTable
  carrier_messages: CarrierMessagesTable
  carrier_reports_unmatched: CarrierReportsUnmatchedTable
  carrier_incoming_parts: CarrierIncomingPartsTable
  simulator_reports: SimulatorReportsTable
  incoming: IncomingTable
  blacklist: BlacklistTable
  alerts: AlertsTable
  callback_deliveries: CallbackDeliveriesTable
  http2sms_guard: Http2smsGuardTable
  receiver_slots: ReceiverSlotsTable
  sms_tasks: SmsTasksTable
  smpp_accounts: SmppAccountsTable
  smpp_deliveries: SmppDeliveriesTable
  documents: DocumentsTable
}

/**
 * Documents (src/documents/): history exports (the filter of each, streamed into CSV when downloaded),
 * files uploaded through a putUrl at /me/document, and a sender's validation documents.
 */
export interface DocumentsTable {
  id: string
  owner_id: number
  kind: ColumnType<DocumentKind, DocumentKind | undefined, DocumentKind>
  /** The account of an export or a sender document; null for /me uploads. */
  account_id: number | null
  login: string | null
  /** The sender a 'sender' document belongs to. */
  sender: string | null
  name: string
  description: string | null
  /** JSON list of {key, value}. */
  tags: ColumnType<string, string | undefined, string>
  way_type: 'incoming' | 'outgoing' | null
  filters: string | null
  /** Highest row id the export holds. */
  last_row_id: number | null
  /** The getUrl token, sealed by the secret box. */
  token_enc: string
  /** The putUrl token, sealed; null for exports. */
  put_token_enc: string | null
  content: Buffer | null
  content_type: string | null
  size: ColumnType<number | null, number | null | undefined, number | null>
  created_at: Date
  /** null: kept as long as what it belongs to (a sender's documents). */
  expires_at: Date | null
}

export type DocumentKind = 'export' | 'upload' | 'sender'

/** OVH's receiver lists (src/receivers/): login '' is an account-level slot. */
export interface ReceiverSlotsTable {
  account_id: number
  login: string
  slot_id: number
  description: string
  auto_update: boolean
  csv_url: string | null
  /** One number a line, as given. */
  numbers: string
  records: number
  created_at: Date
}

/** sms.Task rows (GET {S}/task): receiver list cleanings. */
export interface SmsTasksTable {
  id: Generated<number>
  account_id: number
  function: string
  status: string
  step: string
  created_at: Date
}

/** The SMPP side of an smpp- account (src/smpp-server/). */
export interface SmppAccountsTable {
  account_id: number
  system_id: string
  /** Sealed by the secret box. */
  password_enc: string
  password_version: Generated<number>
  /** Addresses and CIDR blocks (JSON list of strings). */
  allowed_ips: ColumnType<string[], string | undefined, string>
  throughput: Generated<number>
  windowing: Generated<number>
  created_at: CreatedAt
}

export type SmppDeliveryState = 'pending' | 'delivered' | 'failed'

/** deliver_sm waiting for a bound receiver of the account: receipts and MO, in id order per account. */
export interface SmppDeliveriesTable {
  id: Generated<number>
  account_id: number
  kind: 'receipt' | 'mo'
  outgoing_id: number | null
  incoming_id: number | null
  pdu: ColumnType<unknown, string, string>
  state: Generated<SmppDeliveryState>
  attempts: Generated<number>
  next_attempt_at: Date
  last_error: string | null
  created_at: Date
  delivered_at: Date | null
}

/**
 * The http2sms lockout (src/sending/http2sms.ts). `subject` is a kind (`pair`, `address`, `login`,
 * `trusted`) and a hash of what it is about; `failures` counts failed logins until `expires_at`, the
 * end of its window (0 for `trusted`: an address that authenticated the login, until `expires_at`).
 */
export interface Http2smsGuardTable {
  subject: string
  failures: number
  expires_at: Date
}

/**
 * pending: to call (again) at next_attempt_at; delivered: a 2xx answered; gone: 410, not retried;
 * failed: a permanent refusal, a blocked address or the last retry spent (dead letter, replayable).
 */
export type DeliveryStatus = 'pending' | 'delivered' | 'gone' | 'failed'

export interface CallbackDeliveriesTable {
  id: Generated<number>
  account_id: number
  login: string | null
  kind: 'dlr' | 'stop' | 'reply'
  /** The SMS reported on (dlr); deliveries of one SMS go out in id order. */
  outgoing_id: number | null
  /** The callback URL with our parameters appended. */
  url: string
  status: Generated<DeliveryStatus>
  attempts: Generated<number>
  next_attempt_at: Date
  /** While a dispatcher holds the row (claimed, its call not recorded yet): until when. */
  leased_until: ColumnType<Date | null, Date | null | undefined, Date | null>
  last_status: number | null
  last_error: string | null
  created_at: Date
  delivered_at: Date | null
  /** Sealed secret the call is signed with (Standard Webhooks headers); null: unsigned. */
  signing_secret_enc: string | null
}

/** 'none': this channel is not asked for; 'pending' until sent; 'sent'; 'failed' after the last try. */
export type AlertChannelState = 'none' | 'pending' | 'sent' | 'failed'

export interface AlertsTable {
  id: Generated<number>
  account_id: number
  login: string
  support: 'mail' | 'sms' | 'both'
  email: string | null
  number: string | null
  /** Credits (not hundredths), as the user set it. */
  threshold: number
  /** Hundredths left when the alert was raised. */
  quota_left: number
  mail_state: AlertChannelState
  sms_state: AlertChannelState
  attempts: Generated<number>
  next_attempt_at: Date
  last_error: string | null
  created_at: Date
  /** 'limit': a quota alert; 'smpp_password': a regenerated SMPP password (in secret_enc) to mail. */
  kind: Generated<'limit' | 'smpp_password'>
  secret_enc: string | null
}

export interface SendersTable {
  account_id: number
  sender: string
  description: Generated<string>
  reason: string | null
  status: Generated<'disable' | 'enable' | 'refused' | 'waitingValidation'>
  type: 'alpha' | 'numeric' | 'shortcode' | 'virtual' | null
  referer: Generated<'custom' | 'domain' | 'line' | 'nic' | 'owner' | 'virtual'>
  comment: string | null
  validation_media: string | null
  /** SHA-256 (hex) of the code sent by SMS to a numeric sender; null: no code pending. */
  code_hash: string | null
  code_attempts: Generated<number>
  code_expires_at: Date | null
  created_at: CreatedAt
}

/** Where an outgoing SMS is in its life: waiting for its send time, handed to the carrier, done. */
export type OutgoingState = 'pending' | 'submitted' | 'final' | 'cancelled'

export interface OutgoingTable {
  id: Generated<number>
  account_id: number
  /** null: sent from the account (POST /sms/{serviceName}/jobs). */
  login: string | null
  batch_id: string
  message_id: string | null
  /** registered_delivery of an SMS sent by submit_sm (receipt bits); null for other sends. */
  smpp_receipt: ColumnType<number | null, number | null | undefined, number | null>
  sender: string
  receiver: string
  message: string
  message_length: number
  number_of_sms: number
  coding: '7bits' | 'unicode'
  /** Hundredths of a credit spent for this SMS. */
  credits: number
  spend_source: 'quota' | 'account'
  tag: Generated<string>
  class: string | null
  priority: string | null
  no_stop_clause: Generated<boolean>
  sender_for_response: Generated<boolean>
  /** Minutes the send was deferred by. */
  differed_delivery: Generated<number>
  /** When the sending worker may hand it over next: the send time, moved on by retries. */
  send_at: Date
  expires_at: Date | null
  state: Generated<OutgoingState>
  /** The carrier that accepted it (null while pending). */
  carrier: string | null
  /** Hand-overs tried; the current one's number is the token of its lease. */
  submit_attempts: Generated<number>
  /** Set while a worker hands it over (the lease's end); null otherwise. */
  claimed_until: Date | null
  ptt: Generated<number>
  delivery_receipt: Generated<number>
  tariff_code: Generated<string>
  created_at: Date
  sent_at: Date | null
  delivered_at: Date | null
}

/** The status history of each outgoing SMS: one row per change, in order. */
export interface OutgoingEventsTable {
  id: Generated<number>
  outgoing_id: number
  account_id: number
  login: string | null
  ptt: number
  dlr: number
  created_at: Date
}

/** The ids a carrier gave an SMS it accepted, one per part; its reports refer to them. */
export interface CarrierMessagesTable {
  carrier: string
  carrier_message_id: string
  outgoing_id: number
  part: Generated<number>
  /** The last report about this part. */
  ptt: number | null
  dlr: number | null
}

/** A report whose carrier id was not known (yet) when it arrived. */
export interface CarrierReportsUnmatchedTable {
  id: Generated<number>
  carrier: string
  carrier_message_id: string
  ptt: number
  dlr: number
  received_at: Date
}

/** A part of a concatenated incoming message, kept until its last part arrives. */
export interface CarrierIncomingPartsTable {
  carrier: string
  /** The phone that wrote, E.164. */
  sender: string
  reference: number
  total: number
  sequence: number
  /** The number or short code it wrote to, as the carrier gave it. */
  recipient: string
  text: string
  received_at: Date
}

/** What the simulator will report, and when (its own queue, as an SMSC keeps one). */
export interface SimulatorReportsTable {
  id: Generated<number>
  carrier_message_id: string
  due_at: Date
  ptt: number
  dlr: number
}

export interface IncomingTable {
  id: Generated<number>
  account_id: number
  login: string | null
  sender: string
  message: string
  tag: Generated<string>
  credits: Generated<number>
  created_at: Date
}

export interface BlacklistTable {
  account_id: number
  number: string
  batch_id: string | null
  sms_outgoing_id: number | null
  created_at: Date
}

/**
 * One row per credit movement, written in the transaction that moves the balances: the sum of
 * `account_delta` is the account's credits_left, the sum of `quota_delta` per login that user's
 * quota_left (hundredths).
 */
export interface CreditLedgerTable {
  id: Generated<number>
  account_id: number
  login: string | null
  kind: LedgerKind
  account_delta: number
  quota_delta: number
  /** The other account of a transfer. */
  counterparty: string | null
  /** What caused it (an outgoing SMS id, a spend reference…). */
  reference: string | null
  created_at: CreatedAt
}

export type LedgerKind =
  | 'opening'
  | 'purchase'
  | 'quota_set'
  | 'quota_release'
  | 'transfer_out'
  | 'transfer_in'
  | 'spend'
  | 'refund'

export interface ServiceAccountsTable {
  id: Generated<number>
  owner_id: number
  client_id: string
  /** sha256 hex of the client secret (a random 40-character key, so a fast hash is enough). */
  client_secret_hash: string
  name: Generated<string>
  rules: ColumnType<AccessRule[], string, string>
  revoked_at: Date | null
  created_at: CreatedAt
}

export interface OauthTokensTable {
  id: Generated<number>
  service_account_id: number
  /** sha256 hex of the access token. */
  token_hash: string
  scope: string
  expires_at: Date
  revoked: Generated<boolean>
  created_at: CreatedAt
}

export interface ApplicationsTable {
  id: Generated<number>
  owner_id: number
  application_key: string
  /** Sealed with the SecretBox: the signature check needs the secret back. */
  application_secret_enc: string
  name: string
  description: Generated<string>
  created_at: CreatedAt
}

export type AccessRule = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }

export interface CredentialsTable {
  id: Generated<number>
  application_id: number
  /** sha256 hex of the consumer key; the key itself is never stored. */
  consumer_key_hash: string
  /** sha256 hex of the token in the credential's validationUrl; null for keys made before tokens. */
  validation_token_hash: string | null
  state: 'pendingValidation' | 'validated' | 'refused' | 'expired'
  rules: ColumnType<AccessRule[], string, string>
  allowed_ips: string[] | null
  redirection: string | null
  expires_at: Date | null
  last_use: Date | null
  created_at: CreatedAt
}

type CreatedAt = ColumnType<Date, Date | string | undefined, never>

export interface OwnersTable {
  id: Generated<number>
  name: string
  /** Where a regenerated SMPP password is mailed. */
  contact_email: string | null
  /** The owner's nic handle and domain names (one a line): senders validated from them at once. */
  nichandle: string | null
  domains: Generated<string>
  created_at: CreatedAt
}

export interface AccountsTable {
  id: Generated<number>
  owner_id: number
  service_name: string
  description: string
  /** Spendable credits of the account, in hundredths. */
  credits_left: Generated<number>
  call_back: string | null
  stop_call_back: string | null
  sms_response: ColumnType<unknown, string, string>
  templates: ColumnType<unknown, string, string>
  automatic_recredit_amount: number | null
  /** In hundredths of a credit. */
  credit_threshold_for_automatic_recredit: Generated<number>
  channel: Generated<string>
  status: Generated<string>
  iam_id: Generated<string>
  /** Sealed Standard Webhooks secret (whsec_…) signing this account's callbacks; null: unsigned. */
  callback_secret_enc: string | null
  created_at: CreatedAt
}

export interface SmsUsersTable {
  account_id: number
  login: string
  /** AES-256-GCM ciphertext, see src/crypto.ts. */
  password_enc: string
  quota_status: Generated<string>
  /** In hundredths of a credit. */
  quota_left: Generated<number>
  alert_threshold: Generated<number>
  alert_support: Generated<string>
  alert_email: string | null
  alert_number: string | null
  ip_restrictions: ColumnType<string[], string[] | undefined, string[]>
  call_back: string | null
  stop_call_back: string | null
  /** Sealed Standard Webhooks secret for this user's callbacks; null: the account's. */
  callback_secret_enc: string | null
  created_at: CreatedAt
}

export type ApplicationRow = Selectable<ApplicationsTable>
export type CredentialRow = Selectable<CredentialsTable>
export type OutgoingRow = Selectable<OutgoingTable>
export type AccountRow = Selectable<AccountsTable>
export type NewAccount = Insertable<AccountsTable>
export type AccountUpdate = Updateable<AccountsTable>
export type SmsUserRow = Selectable<SmsUsersTable>
export type NewSmsUser = Insertable<SmsUsersTable>
export type SmsUserUpdate = Updateable<SmsUsersTable>
