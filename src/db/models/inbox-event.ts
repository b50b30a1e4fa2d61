import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

/**
 * `pending`: recorded, work left (the urgent part, if `urgentDoneAt` is empty, or the slow part);
 * `done`; `failed` (unreadable, unknown type, or retries used up: `reason` says which); `ignored`
 * (another organisation's, or no organisation configured).
 */
export type InboxStatus = 'pending' | 'done' | 'failed' | 'ignored';
export const INBOX_STATUSES: readonly InboxStatus[] = ['pending', 'done', 'failed', 'ignored'];

/** A back-channel logout token still to send: the account's session `sid` at one app. */
export interface PendingLogout {
  accountId: string;
  clientId: string;
  sid?: string;
}

/** One DingTalk organisation event, recorded before it was acknowledged (accounts/inbox/). */
export class InboxEvent extends Model<InferAttributes<InboxEvent>, InferCreationAttributes<InboxEvent>> {
  /** Stream's `eventId`, or `http:<digest>` for an HTTP push (dingtalk/http-event.ts). */
  declare id: string;
  declare transport: string;
  /** DingTalk's event type; null when the push could not be read. */
  declare type: string | null;
  declare corpId: string | null;
  declare userIds: CreationOptional<string[]>;
  declare departmentIds: CreationOptional<number[]>;
  declare occurredAt: Date | null;
  /** The decrypted payload as received. */
  declare payload: unknown;
  declare status: InboxStatus;
  /** Why it failed or was ignored, or the last attempt's error while it is retried. */
  declare reason: string | null;
  /** When the urgent part (disable, revoke) was done; null until then. */
  declare urgentDoneAt: Date | null;
  /** Logout tokens still to send. */
  declare logouts: CreationOptional<PendingLogout[]>;
  /** Attempts of the slow part so far. */
  declare attempts: CreationOptional<number>;
  declare nextAttemptAt: Date;
  declare finishedAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initInboxEvent(sequelize: Sequelize): typeof InboxEvent {
  const InboxEventModel = class extends InboxEvent {};
  InboxEventModel.init(
    {
      id: { type: DataTypes.STRING(200), primaryKey: true },
      transport: { type: DataTypes.STRING(16), allowNull: false },
      type: { type: DataTypes.STRING(64), allowNull: true },
      corpId: { type: DataTypes.STRING(64), allowNull: true },
      userIds: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      departmentIds: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      occurredAt: { type: DataTypes.DATE, allowNull: true },
      payload: { type: DataTypes.JSONB, allowNull: true },
      status: { type: DataTypes.STRING(16), allowNull: false },
      reason: { type: DataTypes.TEXT, allowNull: true },
      urgentDoneAt: { type: DataTypes.DATE, allowNull: true },
      logouts: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      nextAttemptAt: { type: DataTypes.DATE, allowNull: false },
      finishedAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'InboxEvent', tableName: 'inbox_events', underscored: true },
  );
  return InboxEventModel;
}
