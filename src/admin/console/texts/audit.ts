/** The console's texts for the audit log. */
import { localeTexts } from './locale-texts.js';

export const auditTexts = localeTexts(
  {
    auditFilters: '筛选',
    type: '事件类型',
    client: '应用 client_id',
    from: '开始时间',
    to: '结束时间',
    downloadCsv: '下载 CSV',
    time: '时间',
    actor: '操作者',
    olderEvents: '更早的事件',
    newestEvents: '最新的事件',
  },
  {
    auditFilters: 'Filters',
    type: 'Event type',
    client: 'Application client_id',
    from: 'From',
    to: 'To',
    downloadCsv: 'Download CSV',
    time: 'Time',
    actor: 'Actor',
    olderEvents: 'Older events',
    newestEvents: 'Newest events',
  },
);
