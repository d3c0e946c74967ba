import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { toHex } from '../encoding/bytes.ts'
import type { ValidatorSchedule } from '../chain/validator-schedule.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import type { MemberSet } from '../chain/member-set.ts'

/** What membership needs of the governance schedule: the sets in force at a height, and the newest ones known. */
export interface MembershipSchedule extends Pick<ValidatorSchedule, 'at'> {
  latest: () => ValidatorSet
  membersAt: (height: number) => MemberSet
  latestMembers: () => MemberSet
}

/**
 * Which peers the network admits while a node decides height h (its head is h - 1):
 *
 * - the validators **in force at h**: a validator whose removal takes effect at E is admitted while
 *   the node decides heights below E (its votes may still be needed) and refused from the moment
 *   the node's head reaches E - 1, i.e. before anything of height E is built, voted or relayed;
 * - validators whose **addition is included but not yet in force** (the newest set): they connect
 *   and sync from inclusion on, so they can vote at their first height;
 * - the **members** (hospitals that write without voting) by the same two rules: those in force
 *   at h and those whose addition is included; a removed member is cut off at its effect height;
 * - the observers listed in genesis (governance does not change them).
 *
 * The node recomputes this after every final block (a change takes effect at a height, not when
 * it is included), and the network cuts off whoever left (Network.setAllowed).
 */
export class MemberAllowlist {
  /** Peer ids by public key (hex): deriving one costs a multihash and a base58 encoding. */
  private readonly ids = new Map<string, string>()

  constructor (private readonly schedule: MembershipSchedule, private readonly observers: readonly Uint8Array[]) {}

  /** Peer ids admitted while deciding `height`, without duplicates. */
  at (height: number): string[] {
    const keys = [...this.schedule.at(height).keys, ...this.schedule.latest().keys, ...this.schedule.membersAt(height).keys, ...this.schedule.latestMembers().keys, ...this.observers]
    return [...new Set(keys.map(k => this.peerId(k)))]
  }

  /**
   * Of the peers admitted at `height`, those a change already final removes later: still members,
   * but nothing made after their removal takes effect may reach them (the network does not relay
   * to anyone while one of them is connected).
   */
  leaving (height: number): string[] {
    const stay = new Set([...this.schedule.latest().keys, ...this.schedule.latestMembers().keys, ...this.observers].map(k => this.peerId(k)))
    return this.at(height).filter(id => !stay.has(id))
  }

  /** Whether a peer is a validator of the newest set (a member dials validators first). */
  isValidator (peerId: string): boolean {
    return this.schedule.latest().keys.some(k => this.peerId(k) === peerId)
  }

  private peerId (publicKey: Uint8Array): string {
    const hex = toHex(publicKey)
    let id = this.ids.get(hex)
    if (id === undefined) {
      id = peerIdOfPublicKey(publicKey)
      // Bounded by the keys ever named in genesis and governance (a few per change).
      this.ids.set(hex, id)
    }
    return id
  }
}
