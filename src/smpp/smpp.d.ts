// The parts of the untyped `smpp` package (0.5.1, CommonJS) that src/smpp/session.ts uses; nothing
// else imports 'smpp' directly.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events'
  import type { Server as NetServer, Socket } from 'node:net'

  export type RawPdu = {
    command: string
    command_id: number
    command_status: number
    sequence_number: number
    isResponse(): boolean
    response(options?: Record<string, unknown>): RawPdu
    [field: string]: unknown
  }

  export interface RawSession extends EventEmitter {
    socket: Socket
    send(pdu: RawPdu, responseCallback?: (pdu: RawPdu) => void, sendCallback?: () => void): boolean
    close(callback?: () => void): void
    destroy(callback?: () => void): void
  }

  export interface RawServer extends NetServer {
    sessions: RawSession[]
  }

  const smpp: {
    PDU: { new (command: string, options?: Record<string, unknown>): RawPdu; maxLength: number }
    createServer(options: Record<string, unknown>, listener: (session: RawSession) => void): RawServer
    connect(options: Record<string, unknown>, listener?: () => void): RawSession
    addTLV(tag: string, options: { id: number; type: unknown }): void
    types: { tlv: { cstring: unknown; int8: unknown; int16: unknown; buffer: unknown } }
    errors: Record<string, number>
    filters: {
      message: { decode(value: unknown, skipUdh?: boolean): unknown }
      time: { decode(value: unknown): unknown }
    }
    gsmCoder: {
      encode(text: string, shift?: number): Buffer
      decode(bytes: Buffer, shift?: number): string
    }
  }
  export default smpp
}
