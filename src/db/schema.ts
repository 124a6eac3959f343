import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

/**
 * The database as the application sees it: one interface per table, snake_case like the columns.
 * Credits are integer hundredths of a credit (`bigint`, parsed to `number` by both drivers).
 */
export interface Database {
  owners: OwnersTable
  accounts: AccountsTable
  sms_users: SmsUsersTable
}

type CreatedAt = ColumnType<Date, Date | string | undefined, never>

export interface OwnersTable {
  id: Generated<number>
  name: string
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
  created_at: CreatedAt
}

export type AccountRow = Selectable<AccountsTable>
export type NewAccount = Insertable<AccountsTable>
export type AccountUpdate = Updateable<AccountsTable>
export type SmsUserRow = Selectable<SmsUsersTable>
export type NewSmsUser = Insertable<SmsUsersTable>
export type SmsUserUpdate = Updateable<SmsUsersTable>
