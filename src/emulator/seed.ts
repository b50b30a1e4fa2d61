import { z } from 'zod';
import seedJson from './seed.json' with { type: 'json' };

const roleSchema = z.object({ id: z.number(), name: z.string(), group_name: z.string() });

/** One person. `status` decides what the directory APIs say about them. */
export const seedUserSchema = z
  .object({
    /**
     * `member` (default): in the directory. `left`: removed from the organisation — can still log in
     * to DingTalk, but getbyunionid / user/get answer 60121. `outsider`: never a member; has a
     * unionId only. `external`: an external contact (外部联系人) of the organisation: getbyunionid
     * answers `contact_type` 1 with their userid (§2.2); the employee reads do not list them and
     * user/get answers 60121 (the emulator's choice: the reads for external contacts are other APIs).
     */
    status: z.enum(['member', 'left', 'outsider', 'external']).default('member'),
    userid: z.string().min(1).optional(),
    unionid: z.string().min(1),
    /** Per-app id; derived from the client id and unionId when absent. */
    openid: z.string().optional(),
    name: z.string().min(1),
    /** users/me `nick`; defaults to `name`. */
    nick: z.string().optional(),
    avatar: z.string().optional(),
    state_code: z.string().optional(),
    mobile: z.string().optional(),
    /** user/get `email` (set by an admin; not the corporate mailbox). */
    email: z.string().optional(),
    /** users/me `email`: the personal address. */
    personal_email: z.string().optional(),
    /** user/get `org_email`: the corporate mailbox. */
    org_email: z.string().optional(),
    title: z.string().optional(),
    job_number: z.string().optional(),
    dept_id_list: z.array(z.number()).default([]),
    admin: z.boolean().default(false),
    boss: z.boolean().default(false),
    active: z.boolean().default(true),
    hired_date: z.number().optional(),
    manager_userid: z.string().optional(),
    work_place: z.string().optional(),
    role_list: z.array(roleSchema).default([]),
    /** Per department: is the person its head (user/get `leader_in_dept`)? Absent: boss and admin head theirs. */
    leader_in_dept: z.array(z.object({ dept_id: z.number(), leader: z.boolean() })).optional(),
    /** The organisation's extra attributes, a JSON **string** as DingTalk sends it (§11.5). */
    extension: z.string().optional(),
    /** Executive (高管) flag, only in user/get. */
    senior: z.boolean().default(false),
    /** The organisation a non-member picks on the login page (token `corpId`); none when absent. */
    other_corp_id: z.string().optional(),
  })
  .refine((user) => user.status === 'outsider' || user.userid !== undefined, {
    message: 'members, external contacts and people who left need a userid',
  });

export const seedDepartmentSchema = z.object({
  dept_id: z.number().int(),
  name: z.string().min(1),
  parent_id: z.number().int().optional(),
  order: z.number().optional(),
});

export const emulatorSeedSchema = z.object({
  corp: z.object({ corpId: z.string().min(1), name: z.string().min(1) }),
  departments: z.array(seedDepartmentSchema),
  users: z.array(seedUserSchema),
});

/** A seed as written (defaults may be omitted). */
export type EmulatorSeed = z.input<typeof emulatorSeedSchema>;
/** A seed user as written. */
export type SeedUserInput = z.input<typeof seedUserSchema>;
/** A seed user with defaults applied. */
export type SeedUser = z.output<typeof seedUserSchema>;
export type SeedDepartment = z.output<typeof seedDepartmentSchema>;

/** Validates a seed and applies defaults; throws a zod error naming every problem. */
export function parseSeed(seed: EmulatorSeed): z.output<typeof emulatorSeedSchema> {
  return emulatorSeedSchema.parse(seed);
}

/**
 * The bundled organisation, `seed.json` (a fresh copy on each call, so tests can mutate it freely):
 * a corp with two levels of departments under root 1, a boss, an admin, ordinary employees, one
 * without any email, one not yet activated, one who has left (still able to sign in to DingTalk
 * personally, but gone from the directory) and an outsider. Field names are DingTalk's: the emulator
 * speaks DingTalk.
 */
export function defaultSeed(): EmulatorSeed {
  return structuredClone(seedJson) as EmulatorSeed;
}
