#pragma version ~=0.4.3
"""
@title llmnet reputation book
@notice Per (provider, domain) Beta evidence with exponential decay, in fixed
        point. Only the settlement contract can change it.

        state = (alpha, beta, count, updated_at), alpha/beta in units of 1e-9.
        An update carrying m observations applies
            alpha <- alpha * decay^m + successes
            beta  <- beta  * decay^m + failures
        where successes/failures are already decay-weighted inside the batch,
        so one aggregated update equals m sequential ones. The mirror of this
        arithmetic lives in llmnet.reputation.beta.
"""

MAX_UPDATES: constant(uint256) = 512
MAX_DOMAIN_MEMBERS: constant(uint256) = 1024
ONE: constant(uint256) = 10**18
MASK80: constant(uint256) = 2**80 - 1
MASK48: constant(uint256) = 2**48 - 1

struct Member:
    provider: address
    stake: uint256

interface Registry:
    def domain_members(domain: bytes32) -> DynArray[Member, MAX_DOMAIN_MEMBERS]: view
    def domain_index(domain: bytes32) -> uint256: view

struct RepUpdate:
    provider: address
    domain: bytes32
    count: uint256
    successes: uint256
    failures: uint256

struct RepState:
    alpha: uint256
    beta: uint256
    count: uint256
    updated_at: uint256

struct Candidate:
    provider: address
    stake: uint256
    alpha: uint256
    beta: uint256
    count: uint256
    updated_at: uint256

event ReputationUpdated:
    provider: indexed(address)
    domain: indexed(bytes32)
    alpha: uint256
    beta: uint256
    count: uint256

event ReputationReset:
    provider: indexed(address)
    domain: indexed(bytes32)

event SettlementChanged:
    settlement: address

governance: public(address)
settlement: public(address)
registry: public(address)
decay: public(uint256)

packed: HashMap[address, HashMap[bytes32, uint256]]


@deploy
def __init__(registry: address, decay: uint256):
    assert decay > 0 and decay <= ONE, "decay must be in (0, 1e18]"
    self.governance = msg.sender
    self.registry = registry
    self.decay = decay


@external
def set_settlement(settlement: address):
    assert msg.sender == self.governance, "only governance may do this"
    assert settlement != empty(address), "settlement address is empty"
    self.settlement = settlement
    log SettlementChanged(settlement=settlement)


@pure
@internal
def _pow(x: uint256, n: uint256) -> uint256:
    result: uint256 = ONE
    base: uint256 = x
    e: uint256 = n
    for i: uint256 in range(64):
        if e == 0:
            break
        if e & 1 == 1:
            result = result * base // ONE
        base = base * base // ONE
        e = e >> 1
    return result


@view
@internal
def _unpack(provider: address, domain: bytes32) -> RepState:
    w: uint256 = self.packed[provider][domain]
    return RepState(
        alpha=w & MASK80,
        beta=(w >> 80) & MASK80,
        count=(w >> 160) & MASK48,
        updated_at=(w >> 208) & MASK48,
    )


@external
def apply(updates: DynArray[RepUpdate, MAX_UPDATES]):
    assert msg.sender == self.settlement, "only the settlement contract may change reputation"
    d: uint256 = self.decay
    for u: RepUpdate in updates:
        s: RepState = self._unpack(u.provider, u.domain)
        f: uint256 = self._pow(d, u.count)
        alpha: uint256 = s.alpha * f // ONE + u.successes
        beta: uint256 = s.beta * f // ONE + u.failures
        count: uint256 = s.count + u.count
        assert alpha <= MASK80 and beta <= MASK80 and count <= MASK48, "reputation overflow"
        self.packed[u.provider][u.domain] = alpha | (beta << 80) | (count << 160) | (block.timestamp << 208)
        log ReputationUpdated(provider=u.provider, domain=u.domain, alpha=alpha, beta=beta, count=count)


@external
def reset(provider: address, domain: bytes32):
    assert msg.sender == self.settlement or msg.sender == self.governance, "only settlement or governance may reset reputation"
    self.packed[provider][domain] = 0
    log ReputationReset(provider=provider, domain=domain)


@view
@external
def get(provider: address, domain: bytes32) -> RepState:
    return self._unpack(provider, domain)


@view
@external
def domain_candidates(domain: bytes32) -> DynArray[Candidate, MAX_DOMAIN_MEMBERS]:
    members: DynArray[Member, MAX_DOMAIN_MEMBERS] = staticcall Registry(self.registry).domain_members(domain)
    out: DynArray[Candidate, MAX_DOMAIN_MEMBERS] = []
    for m: Member in members:
        s: RepState = self._unpack(m.provider, domain)
        out.append(Candidate(
            provider=m.provider,
            stake=m.stake,
            alpha=s.alpha,
            beta=s.beta,
            count=s.count,
            updated_at=s.updated_at,
        ))
    return out
