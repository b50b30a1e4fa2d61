import type { SeedDepartment, SeedUser } from './seed.js';

/** Settings of a generated organisation. */
export interface GeneratedOrgOptions {
  /** People to generate (beside the seed's); e.g. 10 000. */
  size: number;
  /** Same seed, same organisation; default 1. */
  seed?: number;
}

/** A generated organisation, ready for the directory (already in parsed form: no schema pass). */
export interface GeneratedOrg {
  departments: SeedDepartment[];
  users: SeedUser[];
}

/** Department ids of generated departments start here (the bundled seed uses 1 and 100–399). */
export const GENERATED_DEPT_BASE = 10_000;

const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN =
  '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲芬燕鹏辉斌宇浩凯健俊帆帅旭宁雪琳晨欣怡子涵梓轩一诺思远嘉怡雨桐浩然若汐';
const AREAS = [
  '研发',
  '产品',
  '销售',
  '市场',
  '运营',
  '客户成功',
  '财务',
  '法务',
  '行政',
  '供应链',
  '数据',
  '安全',
  '设计',
  '质量',
  '交付',
  '人力资源',
];
const REGIONS = ['华东', '华南', '华北', '西南', '华中', '西北', '东北', '海外'];
const LEVEL_SUFFIX = ['中心', '部', '组', '小组', '项目组', '小队'];
const TITLES = [
  '工程师',
  '高级工程师',
  '资深工程师',
  '专家',
  '产品经理',
  '运营专员',
  '销售代表',
  '客户经理',
  '设计师',
  '分析师',
  '主管',
  '经理',
];
const PLACES = ['杭州', '上海', '北京', '深圳', '成都', '武汉', '西安', '新加坡'];
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** mulberry32: a small, fast, seedable PRNG — the same seed gives the same organisation on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Generates an organisation of `size` people under the root department `1`: about one department per
 * 20 people, in a tree several levels deep (8 top-level departments, 3–6 children each, breadth first,
 * at most 6 levels), each department headed by its first member, who is everyone else's
 * `manager_userid` there (a head's manager is the parent department's head); about one person in ten
 * also sits in a second department, one in fifty has not activated DingTalk. Userids are 13 digits
 * starting with `2`, unionIds 22 characters + `iEiE`, like the bundled seed's. 10 000 people take
 * a few milliseconds and a few megabytes.
 */
export function generateOrg(options: GeneratedOrgOptions): GeneratedOrg {
  const size = Math.max(0, Math.floor(options.size));
  const random = prng(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pickChar = (text: string): string => text.charAt(Math.floor(random() * text.length));

  // Departments, breadth first under the root.
  const departmentCount = size === 0 ? 0 : Math.max(1, Math.round(size / 20));
  const departments: SeedDepartment[] = [];
  const depthOf = new Map<number, number>([[1, 0]]);
  const queue: number[] = [1];
  let nextId = GENERATED_DEPT_BASE;
  while (departments.length < departmentCount && queue.length > 0) {
    const parent = queue.shift()!;
    const depth = depthOf.get(parent)!;
    if (depth >= LEVEL_SUFFIX.length) continue;
    const children = parent === 1 ? 8 : 3 + Math.floor(random() * 4);
    for (let order = 1; order <= children && departments.length < departmentCount; order += 1) {
      const id = nextId++;
      const name = depth === 0 ? `${pick(AREAS)}${LEVEL_SUFFIX[0]}` : `${pick(REGIONS)}${pick(AREAS)}${LEVEL_SUFFIX[depth]}${order}`;
      departments.push({ dept_id: id, name, parent_id: parent, order });
      depthOf.set(id, depth + 1);
      queue.push(id);
    }
  }
  const parentOf = new Map(departments.map((d) => [d.dept_id, d.parent_id ?? 1]));

  // People: each in one department (a few in two); the first member of a department heads it.
  const users: SeedUser[] = [];
  const headOf = new Map<number, string>();
  const ids = departments.map((d) => d.dept_id);
  for (let i = 0; i < size; i += 1) {
    const userid = `2${String(i).padStart(12, '0')}`;
    let unionid = '';
    for (let c = 0; c < 22; c += 1) unionid += pickChar(BASE62);
    const primary = ids.length === 0 ? 1 : pick(ids);
    const second = ids.length > 1 && random() < 0.1 ? pick(ids) : undefined;
    const deptIds = second === undefined || second === primary ? [primary] : [primary, second];
    const leads: number[] = [];
    for (const id of deptIds) {
      if (!headOf.has(id)) {
        headOf.set(id, userid);
        leads.push(id);
      }
    }
    const hired = Date.UTC(2010, 0, 1) + Math.floor(random() * 15 * 365) * 86_400_000;
    users.push({
      status: 'member',
      userid,
      unionid: `${unionid}iEiE`,
      name: pickChar(SURNAMES) + pickChar(GIVEN) + (random() < 0.6 ? pickChar(GIVEN) : ''),
      state_code: '86',
      mobile: `13${String(Math.floor(random() * 1e9)).padStart(9, '0')}`,
      org_email: `u${userid}@generated.example`,
      title: pick(TITLES),
      job_number: `G${String(i + 1).padStart(6, '0')}`,
      dept_id_list: deptIds,
      admin: false,
      boss: false,
      active: random() >= 0.02,
      hired_date: hired,
      work_place: pick(PLACES),
      role_list: [],
      senior: false,
      leader_in_dept: deptIds.map((id) => ({ dept_id: id, leader: leads.includes(id) })),
    });
  }

  // Managers: the head of the person's first department, or for its head, the parent's head.
  for (const user of users) {
    const dept = user.dept_id_list[0]!;
    let candidate: number | undefined = dept;
    let manager = headOf.get(dept);
    while (manager === user.userid && candidate !== undefined && candidate !== 1) {
      candidate = parentOf.get(candidate);
      manager = candidate === undefined ? undefined : headOf.get(candidate);
    }
    if (manager !== undefined && manager !== user.userid) user.manager_userid = manager;
  }
  return { departments, users };
}
