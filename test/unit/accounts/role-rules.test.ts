import { expect } from 'chai';
import {
  type AccountFacts,
  describeRule,
  evaluate,
  isListedUser,
  matches,
  parseRuleDefinition,
  type Rule,
  type RuleDefinition,
} from '../../../src/accounts/role-rules.js';
import { AppError } from '../../../src/errors/app-error.js';

/** 李娜 of the emulator seed: platform team (101) under R&D (100) under the root (1). */
function facts(overrides: Partial<AccountFacts> = {}): AccountFacts {
  return {
    unionId: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE',
    userId: '0226103541652',
    departments: [{ id: 101, ancestors: [1, 100] }],
    isAdmin: false,
    isBoss: false,
    dingtalkRoles: ['研发'],
    title: '高级后端工程师',
    ...overrides,
  };
}

function rule(definition: Partial<RuleDefinition> & Pick<RuleDefinition, 'kind' | 'value'>): RuleDefinition {
  return { includeSubDepartments: false, ...definition };
}

function invalid(input: Parameters<typeof parseRuleDefinition>[0]): string {
  try {
    parseRuleDefinition(input);
  } catch (error) {
    expect(error).to.be.instanceOf(AppError).and.include({ code: 'roles.invalid_rule', status: 400, expose: true });
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('accounts/role-rules', () => {
  describe('department', () => {
    it('matches a member of a listed department', () => {
      expect(matches(rule({ kind: 'department', value: [101] }), facts())).to.equal(true);
    });

    it('does not match a member of a sub-department when sub-departments are off', () => {
      expect(matches(rule({ kind: 'department', value: [100] }), facts())).to.equal(false);
    });

    it('matches a member of a sub-department, at any depth, when sub-departments are on', () => {
      expect(matches(rule({ kind: 'department', value: [100], includeSubDepartments: true }), facts())).to.equal(true);
      expect(matches(rule({ kind: 'department', value: [1], includeSubDepartments: true }), facts())).to.equal(true);
    });

    it('with sub-departments on still matches the listed department itself', () => {
      expect(matches(rule({ kind: 'department', value: [101], includeSubDepartments: true }), facts())).to.equal(true);
    });

    it('does not match a sibling or a descendant department of the member', () => {
      const frontend = rule({ kind: 'department', value: [102], includeSubDepartments: true });
      expect(matches(frontend, facts())).to.equal(false);
      const above = facts({ departments: [{ id: 100, ancestors: [1] }] });
      expect(matches(rule({ kind: 'department', value: [101], includeSubDepartments: true }), above)).to.equal(false);
    });

    it('matches when any one of several departments of the member is listed', () => {
      const twoTeams = facts({
        departments: [
          { id: 102, ancestors: [1, 100] },
          { id: 201, ancestors: [1, 200] },
        ],
      });
      expect(matches(rule({ kind: 'department', value: [201] }), twoTeams)).to.equal(true);
      expect(matches(rule({ kind: 'department', value: [200], includeSubDepartments: true }), twoTeams)).to.equal(true);
      expect(matches(rule({ kind: 'department', value: [300], includeSubDepartments: true }), twoTeams)).to.equal(false);
    });

    it('treats an account stored without ancestry as having none', () => {
      const old = facts({ departments: [{ id: 101 }] });
      expect(matches(rule({ kind: 'department', value: [101], includeSubDepartments: true }), old)).to.equal(true);
      expect(matches(rule({ kind: 'department', value: [100], includeSubDepartments: true }), old)).to.equal(false);
    });

    it('matches no one with an empty list, nor an account without departments', () => {
      expect(matches(rule({ kind: 'department', value: [], includeSubDepartments: true }), facts())).to.equal(false);
      expect(matches(rule({ kind: 'department', value: [1], includeSubDepartments: true }), facts({ departments: [] }))).to.equal(false);
    });
  });

  describe('admin and boss', () => {
    it('matches the DingTalk admin flag', () => {
      expect(matches(rule({ kind: 'admin', value: true }), facts({ isAdmin: true }))).to.equal(true);
      expect(matches(rule({ kind: 'admin', value: true }), facts())).to.equal(false);
    });

    it('matches the boss flag', () => {
      expect(matches(rule({ kind: 'boss', value: true }), facts({ isBoss: true }))).to.equal(true);
      expect(matches(rule({ kind: 'boss', value: true }), facts({ isAdmin: true }))).to.equal(false);
    });

    it('with value false matches those without the flag', () => {
      expect(matches(rule({ kind: 'admin', value: false }), facts())).to.equal(true);
      expect(matches(rule({ kind: 'boss', value: false }), facts({ isBoss: true }))).to.equal(false);
    });

    it('matches no one with a malformed value', () => {
      expect(matches(rule({ kind: 'admin', value: [] }), facts({ isAdmin: true }))).to.equal(false);
    });
  });

  describe('dingtalk_role', () => {
    it('matches any one of the listed DingTalk role names', () => {
      expect(matches(rule({ kind: 'dingtalk_role', value: ['市场', '研发'] }), facts())).to.equal(true);
      expect(matches(rule({ kind: 'dingtalk_role', value: ['主管理员'] }), facts())).to.equal(false);
    });

    it('matches no one with an empty list, nor an account without DingTalk roles', () => {
      expect(matches(rule({ kind: 'dingtalk_role', value: [] }), facts())).to.equal(false);
      expect(matches(rule({ kind: 'dingtalk_role', value: ['研发'] }), facts({ dingtalkRoles: [] }))).to.equal(false);
    });
  });

  describe('title', () => {
    it('matches an exact title only', () => {
      expect(matches(rule({ kind: 'title', value: ['HRBP', '高级后端工程师'] }), facts())).to.equal(true);
      expect(matches(rule({ kind: 'title', value: ['后端工程师'] }), facts())).to.equal(false);
      expect(matches(rule({ kind: 'title', value: ['hrbp'] }), facts({ title: 'HRBP' }))).to.equal(false);
    });

    it('matches no one with an empty list, nor an account without a title', () => {
      expect(matches(rule({ kind: 'title', value: [] }), facts())).to.equal(false);
      expect(matches(rule({ kind: 'title', value: ['高级后端工程师'] }), facts({ title: null }))).to.equal(false);
    });
  });

  describe('users', () => {
    it('matches by DingTalk userid', () => {
      expect(matches(rule({ kind: 'users', value: ['0226103541652'] }), facts())).to.equal(true);
    });

    it('matches by unionId', () => {
      expect(matches(rule({ kind: 'users', value: ['a1Xk9PqR2sVb7nLmC3dEfgiEiE'] }), facts())).to.equal(true);
    });

    it('takes userids and unionIds mixed, and matches neither of someone else', () => {
      const list = rule({ kind: 'users', value: ['manager7421', 'Qm7TgH2wZc5yN8rB1uVxKAiEiE'] });
      expect(matches(list, facts())).to.equal(false);
      expect(matches(list, facts({ userId: 'manager7421' }))).to.equal(true);
    });

    it('never matches an account without userid through an empty or missing id', () => {
      expect(matches(rule({ kind: 'users', value: [] }), facts())).to.equal(false);
      expect(isListedUser([''], facts({ userId: null }))).to.equal(false);
    });
  });

  describe('evaluate', () => {
    const rules: Rule[] = [
      { id: 4, role: 'grafana-viewer', kind: 'department', value: [1], includeSubDepartments: true },
      { id: 2, role: 'engineering', kind: 'dingtalk_role', value: ['研发'], includeSubDepartments: false },
      { id: 1, role: 'engineering', kind: 'department', value: [100], includeSubDepartments: true },
      { id: 3, role: 'hr', kind: 'department', value: [300], includeSubDepartments: true },
      { id: 5, role: 'admin', kind: 'admin', value: true, includeSubDepartments: false },
    ];

    it('maps each earned role to the ids of the rules that give it, roles and ids in order', () => {
      const earned = evaluate(rules, facts());
      expect([...earned]).to.deep.equal([
        ['engineering', [1, 2]],
        ['grafana-viewer', [4]],
      ]);
    });

    it('is empty without rules or when nothing matches', () => {
      expect(evaluate([], facts()).size).to.equal(0);
      expect(evaluate(rules, facts({ departments: [], dingtalkRoles: [] })).size).to.equal(0);
    });
  });

  describe('parseRuleDefinition', () => {
    it('turns department ids typed as text into numbers, without duplicates', () => {
      expect(parseRuleDefinition({ kind: 'department', value: ['100', 101, ' 100 '], includeSubDepartments: true })).to.deep.equal({
        kind: 'department',
        value: [100, 101],
        includeSubDepartments: true,
      });
    });

    it('defaults admin and boss to true and reads true/false', () => {
      expect(parseRuleDefinition({ kind: 'admin' })).to.deep.equal({ kind: 'admin', value: true, includeSubDepartments: false });
      expect(parseRuleDefinition({ kind: 'boss', value: ['false'] }).value).to.equal(false);
    });

    it('trims names, titles and ids', () => {
      expect(parseRuleDefinition({ kind: 'title', value: [' HRBP ', 'HRBP'] }).value).to.deep.equal(['HRBP']);
      expect(parseRuleDefinition({ kind: 'users', value: 'manager7421' }).value).to.deep.equal(['manager7421']);
    });

    it('refuses unknown kinds, empty lists, bad ids and misplaced sub-departments, saying why', () => {
      expect(invalid({ kind: 'group', value: ['x'] })).to.contain('unknown rule kind');
      expect(invalid({ kind: 'department', value: [] })).to.contain('at least one');
      expect(invalid({ kind: 'department', value: ['R&D'] })).to.contain('positive whole numbers');
      expect(invalid({ kind: 'department', value: [0] })).to.contain('positive whole numbers');
      expect(invalid({ kind: 'title' })).to.contain('at least one');
      expect(invalid({ kind: 'users', value: ['  '] })).to.contain('non-empty');
      expect(invalid({ kind: 'admin', value: 'yes' })).to.contain('true or false');
      expect(invalid({ kind: 'title', value: ['CTO'], includeSubDepartments: true })).to.contain('department rules only');
    });
  });

  describe('describeRule', () => {
    it('says what a rule matches in one line', () => {
      expect(describeRule({ kind: 'department', value: [100, 200], includeSubDepartments: true })).to.equal(
        'department 100, 200 (and sub-departments)',
      );
      expect(describeRule({ kind: 'boss', value: true, includeSubDepartments: false })).to.equal('boss');
      expect(describeRule({ kind: 'admin', value: false, includeSubDepartments: false })).to.equal('not admin');
      expect(describeRule({ kind: 'title', value: ['HRBP'], includeSubDepartments: false })).to.equal('title "HRBP"');
    });
  });
});
