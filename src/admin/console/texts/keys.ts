/** The console's texts for signing keys. */
import { localeTexts } from './locale-texts.js';

export const keysTexts = localeTexts(
  {
    done_rotated: '已创建新的签名密钥。',
    done_retired: '密钥已停用。',
    keys: '签名密钥',
    kid: 'kid',
    alg: '算法',
    keyState: '状态',
    keyCurrent: '正在签名',
    keyPending: '已发布，待生效',
    keyPublished: '已发布（用于验证）',
    keyRetired: '已停用',
    activates: '生效时间',
    retire: '停用',
    rotate: '轮换',
    rotateImmediate: '立即生效（密钥泄露时使用；其他副本可能短暂使用旧 JWKS）',
    keysNote: '新密钥先发布、经过激活延迟后才开始签名；变更会通知所有副本立即重新加载密钥。',
  },
  {
    done_rotated: 'A new signing key is created.',
    done_retired: 'The key is retired.',
    keys: 'Signing keys',
    kid: 'kid',
    alg: 'Algorithm',
    keyState: 'State',
    keyCurrent: 'signing',
    keyPending: 'published, not signing yet',
    keyPublished: 'published (verification)',
    keyRetired: 'retired',
    activates: 'Signs from',
    retire: 'Retire',
    rotate: 'Rotate',
    rotateImmediate: 'Sign with it at once (compromised key; other replicas may briefly serve the old JWKS)',
    keysNote: 'A new key is published first and signs after the activation delay; every change tells all replicas to reload their keys.',
  },
);
