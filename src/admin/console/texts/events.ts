/** The console's texts for the DingTalk event inbox. */
import { localeTexts } from './locale-texts.js';

export const eventsTexts = localeTexts(
  {
    eventsLead:
      '钉钉推送的通讯录事件（HTTP 回调或 Stream）：每个事件先记录再确认。离职人员的账号在确认前即被停用、会话和授权被撤销；通知应用退出和从钉钉重新读取资料由后台按顺序完成，失败会自动重试。',
    eventsAll: '全部',
    eventsStatus_pending: '待处理',
    eventsStatus_done: '已完成',
    eventsStatus_failed: '失败',
    eventsStatus_ignored: '已忽略',
    eventReceived: '收到时间',
    eventType: '事件类型',
    eventSubject: '涉及',
    eventReason: '原因',
    eventAttempts: '尝试',
    eventNextAttempt: '下次重试 {at}',
    eventUsers: '{count} 人',
    eventDepartments: '部门 {ids}',
    eventUnreadable: '无法解析',
    eventLogoutsPending: '{count} 个退出通知待发送',
    eventUrgentPending: '停用尚未完成',
    eventRetry: '重试',
    noEvents: '没有事件。',
    eventsFailedNote:
      '失败的事件不会自动再试：请先排除原因（例如应用的后端通道退出地址不可达、钉钉接口权限），再点“重试”。无法解析的事件不能重试，钉钉已收到确认，不会重发。',
    done_event_retried: '事件已重新排队，将由后台立即处理。',
  },
  {
    eventsLead:
      'Directory events DingTalk pushed (HTTP callback or Stream). Each one is recorded before it is acknowledged. A leaver’s account is disabled and their sessions and grants revoked before the acknowledgement; telling the apps (back-channel logout) and re-reading profiles from DingTalk happen in the background, retried on failure.',
    eventsAll: 'All',
    eventsStatus_pending: 'Pending',
    eventsStatus_done: 'Done',
    eventsStatus_failed: 'Failed',
    eventsStatus_ignored: 'Ignored',
    eventReceived: 'Received',
    eventType: 'Event type',
    eventSubject: 'Concerns',
    eventReason: 'Reason',
    eventAttempts: 'Attempts',
    eventNextAttempt: 'next try {at}',
    eventUsers: '{count} people',
    eventDepartments: 'departments {ids}',
    eventUnreadable: 'unreadable',
    eventLogoutsPending: '{count} logout notices to send',
    eventUrgentPending: 'disabling not done yet',
    eventRetry: 'Retry',
    noEvents: 'No events.',
    eventsFailedNote:
      'Failed events are not tried again by themselves: remove the cause first (an app’s back-channel logout URI unreachable, DingTalk API permissions), then press Retry. Unreadable events cannot be retried; DingTalk got its acknowledgement and will not send them again.',
    done_event_retried: 'The event is back in line; a worker takes it now.',
  },
);
