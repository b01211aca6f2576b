#pragma version ~=0.4.3
"""
@title llmnet task escrow, batched settlement and the reputation book
@notice Requesters escrow a fee per task. Authorised settlers (validators)
        settle many tasks in one transaction: the batch's fees are paid out to
        respondents and validators, reputation is updated, and the Merkle root
        of the batch's receipts is committed so any single receipt can be
        proven later. Unsettled tasks are refundable after their deadline.

        Reputation lives here so that only settlement can change it, without a
        cross-contract call per batch. Per (provider, domain) it keeps Beta
        evidence with exponential decay, alpha/beta in units of 1e-9:
            alpha <- alpha * decay^m + successes
            beta  <- beta  * decay^m + failures
        for an update carrying m observations whose successes/failures are
        already decay-weighted inside the batch, so one aggregated update
        equals m sequential ones. llmnet.reputation.beta mirrors this.

        The escrow names the whole deployment: the registry, the validator book,
        the human rankings and governance are read from it, and deployment_block
        is where scans of the deployment's events start.

        Task fees live four to a storage word (64-bit lanes: 62 bits of fee in
        gwei, a settled bit and a refunded bit) so settling consecutive tasks
        touches one word per four tasks.
"""

MAX_BATCH: constant(uint256) = 1024
MAX_OPEN: constant(uint256) = 256
MAX_PAYOUTS: constant(uint256) = 128
MAX_UPDATES: constant(uint256) = 128
MAX_DOMAIN_MEMBERS: constant(uint256) = 1024
MAX_PROOF: constant(uint256) = 32
MAX_RESPONDENTS: constant(uint256) = 32
MAX_PROVIDER_DOMAINS: constant(uint256) = 8
MAX_ATTESTATIONS: constant(uint256) = 16
MAX_SETTLERS: constant(uint256) = 64
REASON_WRONG_OUTPUT: constant(uint8) = 2
# EIP-712, as llmnet.signing builds it (the domain's verifying contract is this escrow)
DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
RESPONSE_TYPEHASH: constant(bytes32) = keccak256(
    "Response(uint256 taskId,address respondent,bytes32 contentHash,string modelId,bytes32 weightsHash,uint8 round,"
    "uint32 promptTokens,uint32 completionTokens,bytes32 requestHash)")
SPOTCHECK_TYPEHASH: constant(bytes32) = keccak256(
    "SpotCheck(uint256 taskId,address respondent,bytes32 requestHash,bytes32 weightsHash,bytes32 claimedHash,"
    "bytes32 recomputedHash,address validator)")

FEE_UNIT: constant(uint256) = 10**9
FEE_MASK: constant(uint256) = 2**62 - 1
SETTLED: constant(uint256) = 2**62
REFUNDED: constant(uint256) = 2**63
LANE: constant(uint256) = 2**64 - 1

ONE: constant(uint256) = 10**18
MASK80: constant(uint256) = 2**80 - 1
MASK48: constant(uint256) = 2**48 - 1

STATUS_OPEN: constant(uint8) = 0
STATUS_SETTLED: constant(uint8) = 1
STATUS_REFUNDED: constant(uint8) = 2

struct RepUpdate:
    provider: address
    domain: bytes32
    count: uint256
    successes: uint256
    failures: uint256

struct Member:
    provider: address
    stake: uint256

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

interface Registry:
    def domain_index(domain: bytes32) -> uint256: view
    def domain_members(domain: bytes32) -> DynArray[Member, MAX_DOMAIN_MEMBERS]: view
    def weights_hash_of(provider: address) -> bytes32: view
    def domains_of(provider: address) -> DynArray[bytes32, MAX_PROVIDER_DOMAINS]: view
    def slash(provider: address, amount: uint256, reason: uint8) -> uint256: nonpayable

interface ValidatorBook:
    def is_validator(who: address) -> bool: view

struct SignedResponse:
    task_id: uint256
    respondent: address
    content_hash: bytes32
    model_id: String[128]
    weights_hash: bytes32
    round: uint8
    prompt_tokens: uint32
    completion_tokens: uint32
    request_hash: bytes32
    signature: Bytes[65]

struct Attestation:
    validator: address
    recomputed_hash: bytes32
    signature: Bytes[65]

struct Payout:
    payee: address
    amount: uint256

struct TaskView:
    requester: address
    domain_index: uint256
    fee: uint256
    deadline: uint256
    n_respondents: uint256
    status: uint8

event TaskOpened:
    task_id: indexed(uint256)
    requester: indexed(address)
    domain: indexed(bytes32)
    content_hash: bytes32
    fee: uint256
    n_respondents: uint256
    deadline: uint256

event TaskRefunded:
    task_id: indexed(uint256)
    requester: indexed(address)
    amount: uint256

event BatchSettled:
    batch_id: indexed(uint256)
    settler: indexed(address)
    receipts_root: bytes32
    task_count: uint256
    total_fees: uint256

event ReputationUpdated:
    provider: indexed(address)
    domain: indexed(bytes32)
    alpha: uint256
    beta: uint256
    count: uint256

event ReputationReset:
    provider: indexed(address)
    domain: indexed(bytes32)

event Deposited:
    account: indexed(address)
    amount: uint256

event DepositWithdrawn:
    account: indexed(address)
    amount: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    amount: uint256

event CreditsWithdrawn:
    account: indexed(address)
    amount: uint256

event SettlerChanged:
    settler: indexed(address)
    allowed: bool

event RankingsChanged:
    rankings: indexed(address)

event RespondentConvicted:
    respondent: indexed(address)
    task_id: indexed(uint256)
    claimed_hash: bytes32
    recomputed_hash: bytes32
    slashed: uint256
    attestors: uint256

governance: public(address)
registry: public(address)
decay: public(uint256)
settlers: public(HashMap[address, bool])
# the settlers in the order allowed (a revoked one is swapped out): whom coordinators hand outcomes to
settler_list: DynArray[address, MAX_SETTLERS]

next_task_id: public(uint256)
batch_count: public(uint256)
deposits: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
credits: public(HashMap[address, uint256])

# four 64-bit fee lanes per word, indexed by task_id >> 2
fee_words: HashMap[uint256, uint256]
# requester (160) | deadline (48) | n_respondents (8) | domain index (16)
task_meta: HashMap[uint256, uint256]
# only the root is stored; a batch's task count, fees and settler are in its BatchSettled event
batch_roots: public(HashMap[uint256, bytes32])
# alpha (80) | beta (80) | count (48) | updated_at (48)
reputation_words: HashMap[address, HashMap[bytes32, uint256]]
validator_book: public(address)
spot_quorum: public(uint256)
# keccak256(task_id, respondent, round) of every response already convicted
convicted: public(HashMap[bytes32, bool])
rankings: public(address)
# the block this escrow was deployed in: where scans of the deployment's events start
deployment_block: public(uint256)


@deploy
def __init__(registry: address, decay: uint256):
    assert decay > 0 and decay <= ONE, "decay must be in (0, 1e18]"
    self.governance = msg.sender
    self.registry = registry
    self.decay = decay
    self.deployment_block = block.number


@external
def set_settler(settler: address, allowed: bool):
    assert msg.sender == self.governance, "only governance may do this"
    assert settler != empty(address), "settler address is empty"
    if allowed and not self.settlers[settler]:
        self.settler_list.append(settler)
    elif not allowed and self.settlers[settler]:
        self._unlist_settler(settler)
    self.settlers[settler] = allowed
    log SettlerChanged(settler=settler, allowed=allowed)


@internal
def _unlist_settler(settler: address):
    # swap-and-pop keeps the list dense
    n: uint256 = len(self.settler_list)
    for i: uint256 in range(MAX_SETTLERS):
        if i == n:
            break
        if self.settler_list[i] == settler:
            self.settler_list[i] = self.settler_list[n - 1]
            self.settler_list.pop()
            break


@view
@external
def all_settlers() -> DynArray[address, MAX_SETTLERS]:
    return self.settler_list


@external
def set_validator_book(book: address, quorum: uint256):
    assert msg.sender == self.governance, "only governance may do this"
    assert book != empty(address), "validator book address is empty"
    assert quorum > 0, "a conviction needs at least one attestation"
    self.validator_book = book
    self.spot_quorum = quorum


@external
def set_rankings(rankings: address):
    assert msg.sender == self.governance, "only governance may do this"
    assert rankings != empty(address), "rankings address is empty"
    self.rankings = rankings
    log RankingsChanged(rankings=rankings)


# ---------------------------------------------------------------- spot checks

@internal
@view
def _eip712(struct_hash: bytes32) -> bytes32:
    separator: bytes32 = keccak256(abi_encode(DOMAIN_TYPEHASH, keccak256("llmnet"), keccak256("1"), chain.id, self))
    return keccak256(concat(b"\x19\x01", separator, struct_hash))


@internal
@pure
def _signer(digest: bytes32, signature: Bytes[65]) -> address:
    assert len(signature) == 65, "signature must be 65 bytes"
    v: uint8 = convert(slice(signature, 64, 1), uint8)
    return ecrecover(digest, v, extract32(signature, 0), extract32(signature, 32))


@external
def convict(r: SignedResponse, attestations: DynArray[Attestation, MAX_ATTESTATIONS]) -> uint256:
    """
    @notice Slash a respondent whose signed output at deterministic settings differs from what
            at least spot_quorum registered validators got by running its registered weights on
            the same request. Its whole stake goes, and its reputation in every domain resets.
    @return the amount slashed
    """
    assert self.validator_book != empty(address), "spot checks are not configured"
    key: bytes32 = keccak256(abi_encode(r.task_id, r.respondent, r.round))
    assert not self.convicted[key], "this response was already convicted"
    assert r.weights_hash != empty(bytes32), "the response names no weights"
    assert staticcall Registry(self.registry).weights_hash_of(r.respondent) == r.weights_hash, \
        "the response names other weights than the respondent registered"
    response_hash: bytes32 = keccak256(abi_encode(
        RESPONSE_TYPEHASH, r.task_id, r.respondent, r.content_hash, keccak256(r.model_id), r.weights_hash,
        r.round, r.prompt_tokens, r.completion_tokens, r.request_hash))
    assert self._signer(self._eip712(response_hash), r.signature) == r.respondent, \
        "the response is not signed by its respondent"
    seen: DynArray[address, MAX_ATTESTATIONS] = []
    recomputed: bytes32 = empty(bytes32)
    for a: Attestation in attestations:
        assert a.validator not in seen, "a validator attested twice"
        assert staticcall ValidatorBook(self.validator_book).is_validator(a.validator), \
            "an attestation is not from a registered validator"
        assert a.recomputed_hash != r.content_hash, "an attestation found the same output"
        check: bytes32 = keccak256(abi_encode(
            SPOTCHECK_TYPEHASH, r.task_id, r.respondent, r.request_hash, r.weights_hash, r.content_hash,
            a.recomputed_hash, a.validator))
        assert self._signer(self._eip712(check), a.signature) == a.validator, "an attestation is not signed by its validator"
        seen.append(a.validator)
        recomputed = a.recomputed_hash
    assert len(seen) >= self.spot_quorum, "not enough validators attest the mismatch"
    self.convicted[key] = True
    slashed: uint256 = extcall Registry(self.registry).slash(r.respondent, max_value(uint256), REASON_WRONG_OUTPUT)
    for d: bytes32 in staticcall Registry(self.registry).domains_of(r.respondent):
        self.reputation_words[r.respondent][d] = 0
        log ReputationReset(provider=r.respondent, domain=d)
    log RespondentConvicted(respondent=r.respondent, task_id=r.task_id, claimed_hash=r.content_hash,
                            recomputed_hash=recomputed, slashed=slashed, attestors=len(seen))
    return slashed


# ---------------------------------------------------------------- balances

@external
@payable
def deposit():
    assert msg.value > 0, "no value sent"
    self.deposits[msg.sender] += msg.value
    log Deposited(account=msg.sender, amount=msg.value)


@external
@nonreentrant
def withdraw_deposit(amount: uint256):
    assert amount > 0, "amount must be positive"
    assert amount <= self.deposits[msg.sender], "amount exceeds deposit"
    self.deposits[msg.sender] -= amount
    raw_call(msg.sender, b"", value=amount)  # all gas: contract wallets can receive
    log DepositWithdrawn(account=msg.sender, amount=amount)


@external
def approve(spender: address, amount: uint256):
    assert spender != empty(address), "spender address is empty"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, amount=amount)


@external
@nonreentrant
def withdraw_credits():
    amount: uint256 = self.credits[msg.sender]
    assert amount > 0, "no credits to withdraw"
    self.credits[msg.sender] = 0
    raw_call(msg.sender, b"", value=amount)  # all gas: contract wallets can receive
    log CreditsWithdrawn(account=msg.sender, amount=amount)


# ---------------------------------------------------------------- opening

@internal
def _open(requester: address, domain: bytes32, content_hash: bytes32, fee: uint256,
          n_respondents: uint256, deadline: uint256, domain_index: uint256) -> uint256:
    assert fee > 0, "fee must be positive"
    assert fee % FEE_UNIT == 0, "fee must be a whole number of gwei"
    assert fee // FEE_UNIT <= FEE_MASK, "fee too large"
    task_id: uint256 = self.next_task_id
    self.next_task_id = task_id + 1
    lane_shift: uint256 = (task_id & 3) * 64
    self.fee_words[task_id >> 2] |= (fee // FEE_UNIT) << lane_shift
    self.task_meta[task_id] = convert(requester, uint256) | (deadline << 160) | (n_respondents << 208) | (domain_index << 216)
    log TaskOpened(task_id=task_id, requester=requester, domain=domain, content_hash=content_hash,
                   fee=fee, n_respondents=n_respondents, deadline=deadline)
    return task_id


@view
@internal
def _check_task_params(domain: bytes32, n_respondents: uint256, deadline: uint256) -> uint256:
    index: uint256 = staticcall Registry(self.registry).domain_index(domain)
    assert index != 0, "unknown domain"
    assert n_respondents > 0 and n_respondents <= MAX_RESPONDENTS, "n_respondents must be 1..32"
    assert deadline > block.timestamp, "deadline must be in the future"
    assert deadline < 2**48, "deadline too large"
    return index


@external
@payable
def open_task(domain: bytes32, content_hash: bytes32, n_respondents: uint256, deadline: uint256) -> uint256:
    index: uint256 = self._check_task_params(domain, n_respondents, deadline)
    return self._open(msg.sender, domain, content_hash, msg.value, n_respondents, deadline, index)


@external
def open_tasks(requester: address, domain: bytes32, content_hashes: DynArray[bytes32, MAX_OPEN],
               fees: DynArray[uint256, MAX_OPEN], n_respondents: uint256, deadline: uint256) -> uint256:
    """
    @notice Open several tasks paid from `requester`'s deposit. The caller is
            the requester or a spender it approved (a coordinator).
    @return the id of the first task; the others follow consecutively
    """
    assert len(content_hashes) > 0, "no tasks given"
    assert len(content_hashes) == len(fees), "content_hashes and fees differ in length"
    index: uint256 = self._check_task_params(domain, n_respondents, deadline)
    total: uint256 = 0
    for f: uint256 in fees:
        total += f
    assert total <= self.deposits[requester], "fees exceed the requester's deposit"
    if msg.sender != requester:
        assert total <= self.allowance[requester][msg.sender], "fees exceed the caller's allowance"
        self.allowance[requester][msg.sender] -= total
    self.deposits[requester] -= total
    first: uint256 = self.next_task_id
    for i: uint256 in range(len(fees), bound=MAX_OPEN):
        self._open(requester, domain, content_hashes[i], fees[i], n_respondents, deadline, index)
    return first


@view
@internal
def _lane(task_id: uint256) -> uint256:
    return (self.fee_words[task_id >> 2] >> ((task_id & 3) * 64)) & LANE


@external
def refund(task_id: uint256):
    lane: uint256 = self._lane(task_id)
    assert lane != 0, "unknown task"
    assert lane & SETTLED == 0, "task already settled"
    assert lane & REFUNDED == 0, "task already refunded"
    meta: uint256 = self.task_meta[task_id]
    assert block.timestamp > (meta >> 160) & (2**48 - 1), "deadline not reached"
    self.fee_words[task_id >> 2] |= REFUNDED << ((task_id & 3) * 64)
    requester: address = convert(convert(meta & (2**160 - 1), uint160), address)
    amount: uint256 = (lane & FEE_MASK) * FEE_UNIT
    self.deposits[requester] += amount
    log TaskRefunded(task_id=task_id, requester=requester, amount=amount)


# ---------------------------------------------------------------- settlement

@external
def settle_batch(task_ids: DynArray[uint256, MAX_BATCH], payouts: DynArray[Payout, MAX_PAYOUTS],
                 updates: DynArray[RepUpdate, MAX_UPDATES], receipts_root: bytes32) -> uint256:
    """
    @notice Settle every task in `task_ids` at once. `payouts` must add up to
            exactly the escrowed fees of those tasks; credits are withdrawn by
            the payees with withdraw_credits().
    @return the batch id
    """
    assert self.settlers[msg.sender], "only an authorised settler may settle"
    assert len(task_ids) > 0, "empty batch"
    total: uint256 = 0
    for task_id: uint256 in task_ids:
        lane_shift: uint256 = (task_id & 3) * 64
        word: uint256 = self.fee_words[task_id >> 2]
        lane: uint256 = (word >> lane_shift) & LANE
        assert lane != 0, "unknown task"
        assert lane & SETTLED == 0, "task already settled"
        assert lane & REFUNDED == 0, "task already refunded"
        total += (lane & FEE_MASK) * FEE_UNIT
        self.fee_words[task_id >> 2] = word | (SETTLED << lane_shift)
    paid: uint256 = 0
    for p: Payout in payouts:
        assert p.payee != empty(address), "payout to the empty address"
        self.credits[p.payee] += p.amount
        paid += p.amount
    assert paid == total, "payouts must equal the batch's escrowed fees"
    self._apply_reputation(updates)
    batch_id: uint256 = self.batch_count
    self.batch_count = batch_id + 1
    self.batch_roots[batch_id] = receipts_root
    log BatchSettled(batch_id=batch_id, settler=msg.sender, receipts_root=receipts_root,
                     task_count=len(task_ids), total_fees=total)
    return batch_id


# ---------------------------------------------------------------- reputation

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
def _reputation(provider: address, domain: bytes32) -> RepState:
    w: uint256 = self.reputation_words[provider][domain]
    return RepState(alpha=w & MASK80, beta=(w >> 80) & MASK80, count=(w >> 160) & MASK48,
                    updated_at=(w >> 208) & MASK48)


@internal
def _apply_reputation(updates: DynArray[RepUpdate, MAX_UPDATES]):
    d: uint256 = self.decay
    for u: RepUpdate in updates:
        s: RepState = self._reputation(u.provider, u.domain)
        f: uint256 = self._pow(d, u.count)
        alpha: uint256 = s.alpha * f // ONE + u.successes
        beta: uint256 = s.beta * f // ONE + u.failures
        count: uint256 = s.count + u.count
        assert alpha <= MASK80 and beta <= MASK80 and count <= MASK48, "reputation overflow"
        self.reputation_words[u.provider][u.domain] = alpha | (beta << 80) | (count << 160) | (block.timestamp << 208)
        log ReputationUpdated(provider=u.provider, domain=u.domain, alpha=alpha, beta=beta, count=count)


@external
def reset_reputation(provider: address, domain: bytes32):
    assert msg.sender == self.governance, "only governance may reset reputation"
    self.reputation_words[provider][domain] = 0
    log ReputationReset(provider=provider, domain=domain)


@view
@external
def get_reputation(provider: address, domain: bytes32) -> RepState:
    return self._reputation(provider, domain)


@view
@external
def domain_candidates(domain: bytes32) -> DynArray[Candidate, MAX_DOMAIN_MEMBERS]:
    """
    @notice Every provider of `domain` with its stake and reputation, in one call.
    """
    members: DynArray[Member, MAX_DOMAIN_MEMBERS] = staticcall Registry(self.registry).domain_members(domain)
    out: DynArray[Candidate, MAX_DOMAIN_MEMBERS] = []
    for m: Member in members:
        s: RepState = self._reputation(m.provider, domain)
        out.append(Candidate(provider=m.provider, stake=m.stake, alpha=s.alpha, beta=s.beta,
                             count=s.count, updated_at=s.updated_at))
    return out


# ---------------------------------------------------------------- views

@view
@external
def get_task(task_id: uint256) -> TaskView:
    lane: uint256 = self._lane(task_id)
    assert lane != 0, "unknown task"
    meta: uint256 = self.task_meta[task_id]
    status: uint8 = STATUS_OPEN
    if lane & SETTLED != 0:
        status = STATUS_SETTLED
    elif lane & REFUNDED != 0:
        status = STATUS_REFUNDED
    return TaskView(
        requester=convert(convert(meta & (2**160 - 1), uint160), address),
        domain_index=(meta >> 216) & (2**16 - 1),
        fee=(lane & FEE_MASK) * FEE_UNIT,
        deadline=(meta >> 160) & (2**48 - 1),
        n_respondents=(meta >> 208) & 255,
        status=status,
    )


@pure
@internal
def _hash_pair(a: bytes32, b: bytes32) -> bytes32:
    if convert(a, uint256) < convert(b, uint256):
        return keccak256(concat(b"\x01", a, b))
    return keccak256(concat(b"\x01", b, a))


@view
@external
def verify_receipt(batch_id: uint256, receipt_hash: bytes32, proof: DynArray[bytes32, MAX_PROOF]) -> bool:
    """
    @notice True when `receipt_hash` is a leaf of the batch's receipts tree.
            Leaves are keccak256(0x00 ++ receipt_hash); inner nodes are
            keccak256(0x01 ++ min(a, b) ++ max(a, b)).
    """
    assert batch_id < self.batch_count, "unknown batch"
    node: bytes32 = keccak256(concat(b"\x00", receipt_hash))
    for sibling: bytes32 in proof:
        node = self._hash_pair(node, sibling)
    return node == self.batch_roots[batch_id]
