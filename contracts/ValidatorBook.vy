#pragma version ~=0.4.3
"""
@title llmnet validator book
@notice Validators stake here and commit to their ratings epoch by epoch, in three
        phases, so that no validator can see another's ratings before committing its own:
        ratings made during epoch E are committed during epoch E + 1 (a hash bound to
        the validator, the epoch, the Merkle root of its signed ratings and a secret salt)
        and revealed during epoch E + 2, when every commitment for E is final.
        A commitment never revealed stays visible (missed_reveal) and costs the
        validator its pay and trust. Trust (parts per million) and slashing are set by
        the settlement contract's settlers or by governance; stake waits out a cooldown
        before it can be withdrawn, and can be slashed until then.

        Coordinators are listed here too, with a stake of at least the same minimum and
        the public URL they serve requesters from: respondents and validators take work
        only from a coordinator staked here and not unstaking, so anyone may run one, and
        one that misbehaves has something to lose (governance slashes it).
"""

MAX_VALIDATORS: constant(uint256) = 256
MAX_UPDATES: constant(uint256) = 256
MAX_COORDINATORS: constant(uint256) = 256
PPM: constant(uint256) = 1_000_000

struct Coordinator:
    endpoint: String[256]
    stake: uint256
    unstaking: uint256
    unlock_at: uint256
    registered_at: uint256

struct Validator:
    endpoint: String[256]
    judge_model_id: String[128]
    judge_weights_hash: bytes32
    stake: uint256
    unstaking: uint256
    unlock_at: uint256
    trust_ppm: uint256
    registered_at: uint256

struct ValidatorView:
    validator: address
    stake: uint256
    trust_ppm: uint256
    judge_weights_hash: bytes32

struct TrustUpdate:
    validator: address
    trust_ppm: uint256

event ValidatorRegistered:
    validator: indexed(address)
    endpoint: String[256]
    judge_model_id: String[128]
    judge_weights_hash: bytes32
    stake: uint256

event ValidatorStakeAdded:
    validator: indexed(address)
    amount: uint256
    stake: uint256

event ValidatorUnstakeRequested:
    validator: indexed(address)
    amount: uint256
    unlock_at: uint256

event ValidatorWithdrawn:
    validator: indexed(address)
    amount: uint256

event ValidatorSlashed:
    validator: indexed(address)
    amount: uint256
    reason: uint8
    by: address

event TrustUpdated:
    validator: indexed(address)
    trust_ppm: uint256

event ValidatorUpdated:
    validator: indexed(address)
    endpoint: String[256]
    judge_model_id: String[128]
    judge_weights_hash: bytes32

event CoordinatorRegistered:
    coordinator: indexed(address)
    endpoint: String[256]
    stake: uint256

event CoordinatorUpdated:
    coordinator: indexed(address)
    endpoint: String[256]

event CoordinatorStakeAdded:
    coordinator: indexed(address)
    amount: uint256
    stake: uint256

event CoordinatorUnstakeRequested:
    coordinator: indexed(address)
    amount: uint256
    unlock_at: uint256

event CoordinatorWithdrawn:
    coordinator: indexed(address)
    amount: uint256

event CoordinatorSlashed:
    coordinator: indexed(address)
    amount: uint256
    reason: uint8

event RatingsCommitted:
    validator: indexed(address)
    epoch: indexed(uint256)
    commitment: bytes32

event RatingsRevealed:
    validator: indexed(address)
    epoch: indexed(uint256)
    ratings_root: bytes32
    count: uint256

interface Settlers:
    def settlers(who: address) -> bool: view

governance: public(address)
escrow: public(address)
min_stake: public(uint256)
cooldown: public(uint256)
epoch_length: public(uint256)
initial_trust_ppm: public(uint256)
slashed_total: public(uint256)

validators: HashMap[address, Validator]
validator_list: DynArray[address, MAX_VALIDATORS]
commitments: public(HashMap[address, HashMap[uint256, bytes32]])
reveals: public(HashMap[address, HashMap[uint256, bytes32]])
coordinators: HashMap[address, Coordinator]
coordinator_list: DynArray[address, MAX_COORDINATORS]


@deploy
def __init__(min_stake: uint256, cooldown: uint256, epoch_length: uint256, initial_trust_ppm: uint256):
    assert min_stake > 0, "min_stake must be positive"
    assert epoch_length > 0, "epoch_length must be positive"
    assert initial_trust_ppm <= PPM, "initial trust is above 1,000,000 ppm"
    self.governance = msg.sender
    self.min_stake = min_stake
    self.cooldown = cooldown
    self.epoch_length = epoch_length
    self.initial_trust_ppm = initial_trust_ppm


@internal
@view
def _may_judge(who: address) -> bool:
    # the escrow's settlers record trust and slash, as they settle; governance may too
    if who == self.governance:
        return True
    return self.escrow != empty(address) and staticcall Settlers(self.escrow).settlers(who)


@external
def set_escrow(escrow: address):
    assert msg.sender == self.governance, "only governance may do this"
    assert escrow != empty(address), "escrow address is empty"
    self.escrow = escrow


# ------------------------------------------------------------------ stake
@external
@payable
def register(endpoint: String[256], judge_model_id: String[128], judge_weights_hash: bytes32):
    assert self.validators[msg.sender].registered_at == 0, "validator is already registered"
    assert msg.value >= self.min_stake, "stake below the minimum validator stake"
    assert len(endpoint) > 0, "endpoint is empty"
    assert len(judge_model_id) > 0, "judge model id is empty"
    self.validators[msg.sender] = Validator(
        endpoint=endpoint, judge_model_id=judge_model_id, judge_weights_hash=judge_weights_hash,
        stake=msg.value, unstaking=0, unlock_at=0, trust_ppm=self.initial_trust_ppm,
        registered_at=block.timestamp,
    )
    self.validator_list.append(msg.sender)
    log ValidatorRegistered(validator=msg.sender, endpoint=endpoint, judge_model_id=judge_model_id,
                            judge_weights_hash=judge_weights_hash, stake=msg.value)


@internal
@view
def _registered(who: address):
    assert self.validators[who].registered_at != 0, "validator not registered"


@external
@payable
def add_stake():
    self._registered(msg.sender)
    assert msg.value > 0, "no stake sent"
    self.validators[msg.sender].stake += msg.value
    log ValidatorStakeAdded(validator=msg.sender, amount=msg.value, stake=self.validators[msg.sender].stake)


@external
def request_unstake(amount: uint256):
    self._registered(msg.sender)
    v: Validator = self.validators[msg.sender]
    assert amount > 0, "amount must be positive"
    assert amount <= v.stake, "amount exceeds the stake"
    self.validators[msg.sender].stake = v.stake - amount
    self.validators[msg.sender].unstaking = v.unstaking + amount
    self.validators[msg.sender].unlock_at = block.timestamp + self.cooldown
    log ValidatorUnstakeRequested(validator=msg.sender, amount=amount, unlock_at=block.timestamp + self.cooldown)


@external
def withdraw():
    v: Validator = self.validators[msg.sender]
    assert v.unstaking > 0, "nothing is unstaking"
    assert block.timestamp >= v.unlock_at, "cooldown not over"
    self.validators[msg.sender].unstaking = 0
    send(msg.sender, v.unstaking)
    log ValidatorWithdrawn(validator=msg.sender, amount=v.unstaking)


@external
def update_validator(endpoint: String[256], judge_model_id: String[128], judge_weights_hash: bytes32):
    # a registered validator moves to another public URL or judge model
    self._registered(msg.sender)
    assert len(endpoint) > 0, "endpoint is empty"
    assert len(judge_model_id) > 0, "judge model id is empty"
    self.validators[msg.sender].endpoint = endpoint
    self.validators[msg.sender].judge_model_id = judge_model_id
    self.validators[msg.sender].judge_weights_hash = judge_weights_hash
    log ValidatorUpdated(validator=msg.sender, endpoint=endpoint, judge_model_id=judge_model_id,
                         judge_weights_hash=judge_weights_hash)


# ------------------------------------------------------------------ coordinators
@external
@payable
def register_coordinator(endpoint: String[256]):
    assert self.coordinators[msg.sender].registered_at == 0, "coordinator is already registered"
    assert msg.value >= self.min_stake, "stake below the minimum coordinator stake"
    assert len(endpoint) > 0, "endpoint is empty"
    self.coordinators[msg.sender] = Coordinator(endpoint=endpoint, stake=msg.value, unstaking=0, unlock_at=0,
                                                registered_at=block.timestamp)
    self.coordinator_list.append(msg.sender)
    log CoordinatorRegistered(coordinator=msg.sender, endpoint=endpoint, stake=msg.value)


@internal
@view
def _coordinator(who: address):
    assert self.coordinators[who].registered_at != 0, "coordinator not registered"


@external
def update_coordinator(endpoint: String[256]):
    self._coordinator(msg.sender)
    assert len(endpoint) > 0, "endpoint is empty"
    self.coordinators[msg.sender].endpoint = endpoint
    log CoordinatorUpdated(coordinator=msg.sender, endpoint=endpoint)


@external
@payable
def add_coordinator_stake():
    self._coordinator(msg.sender)
    assert msg.value > 0, "no stake sent"
    self.coordinators[msg.sender].stake += msg.value
    log CoordinatorStakeAdded(coordinator=msg.sender, amount=msg.value, stake=self.coordinators[msg.sender].stake)


@external
def request_coordinator_unstake(amount: uint256):
    self._coordinator(msg.sender)
    c: Coordinator = self.coordinators[msg.sender]
    assert amount > 0, "amount must be positive"
    assert amount <= c.stake, "amount exceeds the stake"
    self.coordinators[msg.sender].stake = c.stake - amount
    self.coordinators[msg.sender].unstaking = c.unstaking + amount
    self.coordinators[msg.sender].unlock_at = block.timestamp + self.cooldown
    log CoordinatorUnstakeRequested(coordinator=msg.sender, amount=amount, unlock_at=block.timestamp + self.cooldown)


@external
@nonreentrant
def withdraw_coordinator():
    c: Coordinator = self.coordinators[msg.sender]
    assert c.unstaking > 0, "nothing is unstaking"
    assert block.timestamp >= c.unlock_at, "cooldown not over"
    self.coordinators[msg.sender].unstaking = 0
    raw_call(msg.sender, b"", value=c.unstaking)  # all gas: contract wallets can receive
    log CoordinatorWithdrawn(coordinator=msg.sender, amount=c.unstaking)


@external
def slash_coordinator(coordinator: address, amount: uint256, reason: uint8):
    assert msg.sender == self.governance, "only governance may slash a coordinator"
    self._coordinator(coordinator)
    c: Coordinator = self.coordinators[coordinator]
    taken: uint256 = min(amount, c.stake + c.unstaking)
    from_stake: uint256 = min(taken, c.stake)
    self.coordinators[coordinator].stake = c.stake - from_stake
    self.coordinators[coordinator].unstaking = c.unstaking - (taken - from_stake)
    self.slashed_total += taken
    log CoordinatorSlashed(coordinator=coordinator, amount=taken, reason=reason)


@external
@view
def get_coordinator(who: address) -> Coordinator:
    self._coordinator(who)
    return self.coordinators[who]


@external
@view
def is_coordinator(who: address) -> bool:
    return self.coordinators[who].registered_at != 0


@external
@view
def all_coordinators() -> DynArray[address, MAX_COORDINATORS]:
    return self.coordinator_list


@external
def slash(validator: address, amount: uint256, reason: uint8):
    assert self._may_judge(msg.sender), "only a settler or governance may slash"
    self._registered(validator)
    v: Validator = self.validators[validator]
    taken: uint256 = min(amount, v.stake + v.unstaking)
    from_stake: uint256 = min(taken, v.stake)
    self.validators[validator].stake = v.stake - from_stake
    self.validators[validator].unstaking = v.unstaking - (taken - from_stake)
    self.slashed_total += taken
    log ValidatorSlashed(validator=validator, amount=taken, reason=reason, by=msg.sender)


@external
def set_trust(updates: DynArray[TrustUpdate, MAX_UPDATES]):
    assert self._may_judge(msg.sender), "only a settler or governance may record trust"
    for u: TrustUpdate in updates:
        self._registered(u.validator)
        assert u.trust_ppm <= PPM, "trust is above 1,000,000 ppm"
        self.validators[u.validator].trust_ppm = u.trust_ppm
        log TrustUpdated(validator=u.validator, trust_ppm=u.trust_ppm)


# ------------------------------------------------------------------ commit, reveal
@external
@view
def current_epoch() -> uint256:
    return block.timestamp // self.epoch_length


@external
@pure
def commitment_of(validator: address, epoch: uint256, ratings_root: bytes32, count: uint256,
                  salt: bytes32) -> bytes32:
    return keccak256(abi_encode(validator, epoch, ratings_root, count, salt))


@external
def commit(epoch: uint256, commitment: bytes32):
    self._registered(msg.sender)
    assert commitment != empty(bytes32), "commitment is empty"
    assert block.timestamp // self.epoch_length == epoch + 1, "ratings of an epoch are committed during the next epoch"
    assert self.commitments[msg.sender][epoch] == empty(bytes32), "already committed for this epoch"
    self.commitments[msg.sender][epoch] = commitment
    log RatingsCommitted(validator=msg.sender, epoch=epoch, commitment=commitment)


@external
def reveal(epoch: uint256, ratings_root: bytes32, count: uint256, salt: bytes32):
    assert block.timestamp // self.epoch_length == epoch + 2, "ratings of an epoch are revealed two epochs later"
    committed: bytes32 = self.commitments[msg.sender][epoch]
    assert committed != empty(bytes32), "nothing was committed for this epoch"
    assert self.reveals[msg.sender][epoch] == empty(bytes32), "already revealed"
    assert keccak256(abi_encode(msg.sender, epoch, ratings_root, count, salt)) == committed, \
        "reveal does not match the commitment"
    self.reveals[msg.sender][epoch] = ratings_root
    log RatingsRevealed(validator=msg.sender, epoch=epoch, ratings_root=ratings_root, count=count)


@external
@view
def missed_reveal(validator: address, epoch: uint256) -> bool:
    """Committed for ``epoch`` and let its reveal phase pass without revealing."""
    return (self.commitments[validator][epoch] != empty(bytes32)
            and self.reveals[validator][epoch] == empty(bytes32)
            and block.timestamp // self.epoch_length > epoch + 2)


# ------------------------------------------------------------------ views
@external
@view
def get_validator(who: address) -> Validator:
    self._registered(who)
    return self.validators[who]


@external
@view
def is_validator(who: address) -> bool:
    return self.validators[who].registered_at != 0


@external
@view
def all_validators() -> DynArray[ValidatorView, MAX_VALIDATORS]:
    out: DynArray[ValidatorView, MAX_VALIDATORS] = []
    for who: address in self.validator_list:
        v: Validator = self.validators[who]
        out.append(ValidatorView(validator=who, stake=v.stake, trust_ppm=v.trust_ppm,
                                 judge_weights_hash=v.judge_weights_hash))
    return out
