import { createHash } from 'node:crypto';
import { seedUserSchema, type SeedDepartment, type SeedUser, type SeedUserInput } from './seed.js';

/** A person known to the emulator (a seed user plus the per-app openid). */
export type EmulatorUser = SeedUser & { openid: string };

/**
 * A change of the organisation's directory, as DingTalk announces it to event subscribers (§5.1,
 * §10.3): the event type and the userids or department ids concerned.
 */
export interface DirectoryChange {
  type: 'user_add_org' | 'user_modify_org' | 'user_leave_org' | 'org_dept_create' | 'org_dept_modify' | 'org_dept_remove';
  userIds?: string[];
  deptIds?: number[];
}

/**
 * The organisation: people (members, leavers, outsiders) and departments, indexed by unionId and
 * userid, and the listeners told of every change (the event subscriptions push them).
 */
export class Directory {
  readonly #clientId: string;
  readonly #users = new Map<string, EmulatorUser>(); // by unionid, in seed order
  readonly #byUserid = new Map<string, EmulatorUser>();
  readonly #departments = new Map<number, SeedDepartment>();
  readonly #listeners = new Set<(change: DirectoryChange) => void>();
  /** Built on first use, dropped on any change: members per department, sub-departments per department. */
  #membersIndex: Map<number, EmulatorUser[]> | undefined;
  #childrenIndex: Map<number, SeedDepartment[]> | undefined;

  constructor(clientId: string, departments: readonly SeedDepartment[], users: readonly SeedUser[]) {
    this.#clientId = clientId;
    for (const department of departments) this.#departments.set(department.dept_id, department);
    for (const user of users) this.#put(this.#withOpenId(user));
  }

  /** Everyone who can sign in to DingTalk, in seed order (members, leavers, outsiders). */
  users(): EmulatorUser[] {
    return [...this.#users.values()];
  }

  /** Anyone with this unionId (member or not). */
  findByUnionId(unionid: string): EmulatorUser | undefined {
    return this.#users.get(unionid);
  }

  /** Anyone with this userid (member or someone who left). */
  findByUserid(userid: string): EmulatorUser | undefined {
    return this.#byUserid.get(userid);
  }

  /** A current member of the organisation by userid. */
  findMember(userid: string): EmulatorUser | undefined {
    const user = this.#byUserid.get(userid);
    return user?.status === 'member' ? user : undefined;
  }

  /** A current member by unionId. */
  findMemberByUnionId(unionid: string): EmulatorUser | undefined {
    const user = this.#users.get(unionid);
    return user?.status === 'member' ? user : undefined;
  }

  department(deptId: number): SeedDepartment | undefined {
    return this.#departments.get(deptId);
  }

  /** Adds or replaces a department (announced as `org_dept_create` / `org_dept_modify`). */
  setDepartment(department: SeedDepartment): void {
    const known = this.#departments.has(department.dept_id);
    this.#departments.set(department.dept_id, department);
    this.#childrenIndex = undefined;
    this.#announce({ type: known ? 'org_dept_modify' : 'org_dept_create', deptIds: [department.dept_id] });
  }

  /** Removes a department (announced as `org_dept_remove`). */
  removeDepartment(deptId: number): void {
    this.#childrenIndex = undefined;
    if (this.#departments.delete(deptId)) this.#announce({ type: 'org_dept_remove', deptIds: [deptId] });
  }

  /** Adds a person (validated like a seed entry) and returns them; a member is announced as `user_add_org`. */
  addUser(input: SeedUserInput): EmulatorUser {
    const user = this.#withOpenId(seedUserSchema.parse(input));
    this.#membersIndex = undefined;
    const previous = this.#users.get(user.unionid);
    if (previous?.userid !== undefined) this.#byUserid.delete(previous.userid);
    this.#put(user);
    if (user.status === 'member' && user.userid !== undefined) this.#announce({ type: 'user_add_org', userIds: [user.userid] });
    return user;
  }

  /**
   * The person leaves the organisation: gone from the directory (60121), still able to sign in to
   * DingTalk with their personal account. Announced as `user_leave_org`.
   */
  markLeft(userid: string): void {
    this.#require(userid).status = 'left';
    this.#announce({ type: 'user_leave_org', userIds: [userid] });
  }

  /** The person (re)joins the organisation (announced as `user_add_org`). */
  markMember(userid: string): void {
    this.#require(userid).status = 'member';
    this.#announce({ type: 'user_add_org', userIds: [userid] });
  }

  /** Changes fields of a person found by userid or unionId (a member's change is announced as `user_modify_org`). */
  setProfile(id: string, patch: Partial<Omit<SeedUser, 'unionid'>>): EmulatorUser {
    const user = this.#users.get(id) ?? this.#require(id);
    this.#membersIndex = undefined;
    if (patch.userid !== undefined && patch.userid !== user.userid && user.userid !== undefined) this.#byUserid.delete(user.userid);
    Object.assign(user, patch);
    if (user.userid !== undefined) this.#byUserid.set(user.userid, user);
    if (user.status === 'member' && user.userid !== undefined) this.#announce({ type: 'user_modify_org', userIds: [user.userid] });
    return user;
  }

  // --- the directory reads (§11) -------------------------------------------------------------

  /** Every department, the root `1` included. */
  departments(): SeedDepartment[] {
    return [...this.#departments.values()];
  }

  /** The next level under `deptId` only (§11.3), in the departments' `order`, then by id. */
  childrenOf(deptId: number): SeedDepartment[] {
    if (this.#childrenIndex === undefined) {
      const index = new Map<number, SeedDepartment[]>();
      for (const department of this.#departments.values()) {
        if (department.parent_id === undefined) continue;
        const siblings = index.get(department.parent_id) ?? [];
        siblings.push(department);
        index.set(department.parent_id, siblings);
      }
      for (const siblings of index.values()) siblings.sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || a.dept_id - b.dept_id);
      this.#childrenIndex = index;
    }
    return this.#childrenIndex.get(deptId) ?? [];
  }

  /** The department itself, then each parent up to the root: `[789, 456, 123, 1]` (§11.3). */
  pathToRoot(deptId: number): number[] {
    const path: number[] = [];
    for (let id: number | undefined = deptId; id !== undefined && !path.includes(id); id = this.#departments.get(id)?.parent_id) {
      if (!this.#departments.has(id)) break;
      path.push(id);
    }
    return path;
  }

  /**
   * The direct members of `deptId` (sub-departments excluded, §11.4) in the order they joined it —
   * the emulator's stand-in for both DingTalk's `custom` order and the joining time.
   */
  membersOf(deptId: number): EmulatorUser[] {
    if (this.#membersIndex === undefined) {
      const index = new Map<number, EmulatorUser[]>();
      for (const user of this.#users.values()) {
        if (user.status !== 'member') continue;
        for (const id of new Set(user.dept_id_list)) {
          const members = index.get(id) ?? [];
          members.push(user);
          index.set(id, members);
        }
      }
      this.#membersIndex = index;
    }
    return this.#membersIndex.get(deptId) ?? [];
  }

  /** Current members of the whole organisation (`only_active`: those who activated DingTalk). */
  memberCount(onlyActive: boolean): number {
    let count = 0;
    for (const user of this.#users.values()) if (user.status === 'member' && (!onlyActive || user.active)) count += 1;
    return count;
  }

  /** Is the person a head of `deptId` (user/get `leader_in_dept`, list `leader`)? */
  isLeader(user: EmulatorUser, deptId: number): boolean {
    if (user.leader_in_dept !== undefined) return user.leader_in_dept.some((entry) => entry.dept_id === deptId && entry.leader);
    return user.dept_id_list.includes(deptId) && (user.boss || user.admin);
  }

  /** Calls `listener` on every change; returns the unsubscribe. */
  onChange(listener: (change: DirectoryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The per-app openId: stable for (app, person), different across apps, as on DingTalk. */
  openIdFor(unionid: string): string {
    return createHash('sha256').update(`${this.#clientId}:${unionid}`).digest('base64url').slice(0, 22) + 'iEiE';
  }

  #announce(change: DirectoryChange): void {
    this.#membersIndex = undefined;
    for (const listener of this.#listeners) listener(change);
  }

  #put(user: EmulatorUser): void {
    this.#users.set(user.unionid, user);
    if (user.userid !== undefined) this.#byUserid.set(user.userid, user);
  }

  #withOpenId(user: SeedUser): EmulatorUser {
    return { ...user, openid: user.openid ?? this.openIdFor(user.unionid) };
  }

  #require(userid: string): EmulatorUser {
    const user = this.#byUserid.get(userid);
    if (user === undefined) throw new Error(`emulator: no user with userid ${userid}`);
    return user;
  }
}
