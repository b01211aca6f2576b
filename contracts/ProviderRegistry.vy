#pragma version ~=0.4.3
"""
@title llmnet provider registry
@notice Respondents (LLM providers) register here with their endpoint, domains,
        model identity and a stake in the chain's native currency.
        Stake can be added at any time; unstaking waits out a cooldown, during
        which the unstaking amount can still be slashed. Only the settlement
        contract or governance can slash.
        A provider may record another registered provider as a version of its
        model (an expert trained from the network's data), with its provenance,
        once that provider has named it as its owner: each version is its own
        provider, so it earns its own reputation.
"""

MAX_DOMAINS: constant(uint256) = 64
MAX_PROVIDER_DOMAINS: constant(uint256) = 8
MAX_DOMAIN_MEMBERS: constant(uint256) = 1024
MAX_PROVIDERS: constant(uint256) = 4096
MAX_VERSIONS: constant(uint256) = 64

struct Provider:
    endpoint: String[256]
    model_id: String[128]
    weights_hash: bytes32
    model_version: String[64]
    licence: String[64]
    stake: uint256
    unstaking: uint256
    unlock_at: uint256
    registered_at: uint256
    domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]

struct Member:
    provider: address
    stake: uint256

# what a domain publishes about itself: a short description, and the sha256 of its reference
# corpus (llmnet.experts.corpus) with the URL it is served from; all empty until governance sets it
struct DomainCard:
    description: String[256]
    corpus_hash: bytes32
    corpus_url: String[128]

struct DomainEntry:
    name: String[32]
    card: DomainCard

# what an expert version was made from (llmnet.tuning.manifest): the manifest's sha256, the base
# model's and the dataset's, the method, and the rankings (contract and block range) it learnt from
struct Provenance:
    owner: address
    model_version: String[64]
    manifest_hash: bytes32
    base_hash: bytes32
    method: String[16]
    dataset_hash: bytes32
    rankings: address
    from_block: uint256
    to_block: uint256
    manifest_url: String[256]
    recorded_at: uint256

event DomainAdded:
    domain: indexed(bytes32)
    name: String[32]

event DomainCardSet:
    domain: indexed(bytes32)
    description: String[256]
    corpus_hash: bytes32
    corpus_url: String[128]

event ProviderRegistered:
    provider: indexed(address)
    endpoint: String[256]
    model_id: String[128]
    weights_hash: bytes32
    model_version: String[64]
    licence: String[64]
    domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]
    stake: uint256

event ProviderUpdated:
    provider: indexed(address)
    endpoint: String[256]
    model_id: String[128]
    weights_hash: bytes32
    model_version: String[64]
    licence: String[64]
    domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]

event VersionRecorded:
    owner: indexed(address)
    version: indexed(address)
    model_version: String[64]
    manifest_hash: bytes32
    base_hash: bytes32
    method: String[16]
    dataset_hash: bytes32
    rankings: address
    from_block: uint256
    to_block: uint256
    manifest_url: String[256]

event OwnerNamed:
    version: indexed(address)
    owner: indexed(address)

event StakeAdded:
    provider: indexed(address)
    amount: uint256
    stake: uint256

event UnstakeRequested:
    provider: indexed(address)
    amount: uint256
    unlock_at: uint256

event Withdrawn:
    provider: indexed(address)
    amount: uint256

event Slashed:
    provider: indexed(address)
    amount: uint256
    reason: uint8
    by: address

event SettlementChanged:
    settlement: address

event GovernanceChanged:
    governance: address

governance: public(address)
settlement: public(address)
min_stake: public(uint256)
cooldown: public(uint256)
slashed_total: public(uint256)

providers: HashMap[address, Provider]
provider_list: DynArray[address, MAX_PROVIDERS]
domain_names: DynArray[String[32], MAX_DOMAINS]
# 1-based position of a domain in domain_names; 0 means unknown
domain_index: public(HashMap[bytes32, uint256])
cards: HashMap[bytes32, DomainCard]
members: HashMap[bytes32, DynArray[address, MAX_DOMAIN_MEMBERS]]
# 1-based position of a provider in members[domain]
member_pos: HashMap[bytes32, HashMap[address, uint256]]
provenances: HashMap[address, Provenance]
owner_versions: HashMap[address, DynArray[address, MAX_VERSIONS]]
# the owner a provider accepts to be recorded a version of (so nobody claims another's provider)
named_owner: public(HashMap[address, address])


@deploy
def __init__(min_stake: uint256, cooldown: uint256):
    assert min_stake > 0, "min_stake must be positive"
    self.governance = msg.sender
    self.min_stake = min_stake
    self.cooldown = cooldown


@internal
def _only_governance():
    assert msg.sender == self.governance, "only governance may do this"


@external
def set_settlement(settlement: address):
    self._only_governance()
    assert settlement != empty(address), "settlement address is empty"
    self.settlement = settlement
    log SettlementChanged(settlement=settlement)


@external
def transfer_governance(new_governance: address):
    self._only_governance()
    assert new_governance != empty(address), "governance address is empty"
    self.governance = new_governance
    log GovernanceChanged(governance=new_governance)


@external
def add_domain(name: String[32]) -> bytes32:
    self._only_governance()
    assert len(name) > 0, "domain name is empty"
    d: bytes32 = keccak256(name)
    assert self.domain_index[d] == 0, "domain already exists"
    self.domain_names.append(name)
    self.domain_index[d] = len(self.domain_names)
    log DomainAdded(domain=d, name=name)
    return d


@external
def set_domain_card(domain: bytes32, description: String[256], corpus_hash: bytes32, corpus_url: String[128]):
    self._only_governance()
    assert self.domain_index[domain] != 0, "unknown domain"
    assert (corpus_hash == empty(bytes32)) == (len(corpus_url) == 0), "corpus hash and url go together"
    self.cards[domain] = DomainCard(description=description, corpus_hash=corpus_hash, corpus_url=corpus_url)
    log DomainCardSet(domain=domain, description=description, corpus_hash=corpus_hash, corpus_url=corpus_url)


@internal
def _check_domains(domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]):
    assert len(domains) > 0, "at least one domain is required"
    for i: uint256 in range(len(domains), bound=MAX_PROVIDER_DOMAINS):
        assert self.domain_index[domains[i]] != 0, "unknown domain"
        for j: uint256 in range(i + 1, len(domains), bound=MAX_PROVIDER_DOMAINS):
            assert domains[j] != domains[i], "duplicate domain"


@internal
def _check_profile(endpoint: String[256], model_id: String[128]):
    assert len(endpoint) > 0, "endpoint is empty"
    assert len(model_id) > 0, "model id is empty"


@internal
def _join(provider: address, domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]):
    for d: bytes32 in domains:
        self.members[d].append(provider)
        self.member_pos[d][provider] = len(self.members[d])


@internal
def _leave(provider: address, domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS]):
    # swap-and-pop keeps members[d] dense so reading a domain stays one loop
    for d: bytes32 in domains:
        pos: uint256 = self.member_pos[d][provider]
        last: address = self.members[d][len(self.members[d]) - 1]
        self.members[d][pos - 1] = last
        self.member_pos[d][last] = pos
        self.members[d].pop()
        self.member_pos[d][provider] = 0


@external
@payable
def register(
    endpoint: String[256],
    domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS],
    model_id: String[128],
    weights_hash: bytes32,
    model_version: String[64],
    licence: String[64],
):
    assert self.providers[msg.sender].registered_at == 0, "provider already registered"
    assert msg.value >= self.min_stake, "stake below the minimum"
    self._check_profile(endpoint, model_id)
    self._check_domains(domains)
    self.providers[msg.sender] = Provider(
        endpoint=endpoint,
        model_id=model_id,
        weights_hash=weights_hash,
        model_version=model_version,
        licence=licence,
        stake=msg.value,
        unstaking=0,
        unlock_at=0,
        registered_at=block.timestamp,
        domains=domains,
    )
    self.provider_list.append(msg.sender)
    self._join(msg.sender, domains)
    log ProviderRegistered(
        provider=msg.sender,
        endpoint=endpoint,
        model_id=model_id,
        weights_hash=weights_hash,
        model_version=model_version,
        licence=licence,
        domains=domains,
        stake=msg.value,
    )


@external
def update(
    endpoint: String[256],
    domains: DynArray[bytes32, MAX_PROVIDER_DOMAINS],
    model_id: String[128],
    weights_hash: bytes32,
    model_version: String[64],
    licence: String[64],
):
    assert self.providers[msg.sender].registered_at != 0, "provider not registered"
    self._check_profile(endpoint, model_id)
    self._check_domains(domains)
    self._leave(msg.sender, self.providers[msg.sender].domains)
    self._join(msg.sender, domains)
    p: Provider = self.providers[msg.sender]
    p.endpoint = endpoint
    p.model_id = model_id
    p.weights_hash = weights_hash
    p.model_version = model_version
    p.licence = licence
    p.domains = domains
    self.providers[msg.sender] = p
    log ProviderUpdated(
        provider=msg.sender,
        endpoint=endpoint,
        model_id=model_id,
        weights_hash=weights_hash,
        model_version=model_version,
        licence=licence,
        domains=domains,
    )


@external
def name_owner(owner: address):
    assert self.providers[msg.sender].registered_at != 0, "provider not registered"
    assert self.provenances[msg.sender].recorded_at == 0, "version already exists"
    self.named_owner[msg.sender] = owner
    log OwnerNamed(version=msg.sender, owner=owner)


@external
def record_version(
    version: address,
    model_version: String[64],
    manifest_hash: bytes32,
    base_hash: bytes32,
    method: String[16],
    dataset_hash: bytes32,
    rankings: address,
    from_block: uint256,
    to_block: uint256,
    manifest_url: String[256],
):
    assert self.providers[msg.sender].registered_at != 0, "provider not registered"
    assert self.providers[version].registered_at != 0, "version not registered as a provider"
    assert version != msg.sender, "a provider cannot be a version of itself"
    assert self.named_owner[version] == msg.sender, "only the owner the version named may record it"
    assert self.provenances[version].recorded_at == 0, "version already exists"
    assert manifest_hash != empty(bytes32), "manifest hash is empty"
    assert from_block <= to_block, "block range is reversed"
    assert (rankings == empty(address)) == (to_block == 0), "rankings contract and block range go together"
    assert len(self.owner_versions[msg.sender]) < MAX_VERSIONS, "too many versions for one owner"
    self.provenances[version] = Provenance(
        owner=msg.sender,
        model_version=model_version,
        manifest_hash=manifest_hash,
        base_hash=base_hash,
        method=method,
        dataset_hash=dataset_hash,
        rankings=rankings,
        from_block=from_block,
        to_block=to_block,
        manifest_url=manifest_url,
        recorded_at=block.timestamp,
    )
    self.owner_versions[msg.sender].append(version)
    log VersionRecorded(
        owner=msg.sender,
        version=version,
        model_version=model_version,
        manifest_hash=manifest_hash,
        base_hash=base_hash,
        method=method,
        dataset_hash=dataset_hash,
        rankings=rankings,
        from_block=from_block,
        to_block=to_block,
        manifest_url=manifest_url,
    )


@external
@payable
def add_stake():
    assert self.providers[msg.sender].registered_at != 0, "provider not registered"
    assert msg.value > 0, "no value sent"
    self.providers[msg.sender].stake += msg.value
    log StakeAdded(provider=msg.sender, amount=msg.value, stake=self.providers[msg.sender].stake)


@external
def request_unstake(amount: uint256):
    assert self.providers[msg.sender].registered_at != 0, "provider not registered"
    assert amount > 0, "unstake amount must be positive"
    assert amount <= self.providers[msg.sender].stake, "unstake amount exceeds stake"
    self.providers[msg.sender].stake -= amount
    self.providers[msg.sender].unstaking += amount
    unlock_at: uint256 = block.timestamp + self.cooldown
    self.providers[msg.sender].unlock_at = unlock_at
    log UnstakeRequested(provider=msg.sender, amount=amount, unlock_at=unlock_at)


@external
@nonreentrant
def withdraw():
    amount: uint256 = self.providers[msg.sender].unstaking
    assert amount > 0, "nothing to withdraw"
    assert block.timestamp >= self.providers[msg.sender].unlock_at, "cooldown not over"
    self.providers[msg.sender].unstaking = 0
    raw_call(msg.sender, b"", value=amount)  # all gas: contract wallets can receive
    log Withdrawn(provider=msg.sender, amount=amount)


@external
def slash(provider: address, amount: uint256, reason: uint8) -> uint256:
    assert msg.sender == self.settlement or msg.sender == self.governance, "only settlement or governance may slash"
    assert self.providers[provider].registered_at != 0, "provider not registered"
    assert amount > 0, "slash amount must be positive"
    taken: uint256 = min(amount, self.providers[provider].stake)
    self.providers[provider].stake -= taken
    rest: uint256 = min(amount - taken, self.providers[provider].unstaking)
    self.providers[provider].unstaking -= rest
    self.slashed_total += taken + rest
    log Slashed(provider=provider, amount=taken + rest, reason=reason, by=msg.sender)
    return taken + rest


@external
@nonreentrant
def withdraw_slashed(to: address, amount: uint256):
    self._only_governance()
    assert amount <= self.slashed_total, "amount exceeds slashed funds"
    self.slashed_total -= amount
    raw_call(to, b"", value=amount)  # all gas: contract wallets can receive


@view
@external
def get_provider(provider: address) -> Provider:
    assert self.providers[provider].registered_at != 0, "provider not registered"
    return self.providers[provider]


@view
@external
def is_registered(provider: address) -> bool:
    return self.providers[provider].registered_at != 0


@view
@external
def weights_hash_of(provider: address) -> bytes32:
    return self.providers[provider].weights_hash


@view
@external
def domains_of(provider: address) -> DynArray[bytes32, MAX_PROVIDER_DOMAINS]:
    return self.providers[provider].domains


@view
@external
def stake_of(provider: address) -> uint256:
    return self.providers[provider].stake


@view
@external
def is_active(provider: address) -> bool:
    return self.providers[provider].registered_at != 0 and self.providers[provider].stake >= self.min_stake


@view
@external
def all_providers() -> DynArray[address, MAX_PROVIDERS]:
    return self.provider_list


@view
@external
def domains() -> DynArray[String[32], MAX_DOMAINS]:
    return self.domain_names


@view
@external
def domain_cards() -> DynArray[DomainEntry, MAX_DOMAINS]:
    out: DynArray[DomainEntry, MAX_DOMAINS] = []
    for name: String[32] in self.domain_names:
        out.append(DomainEntry(name=name, card=self.cards[keccak256(name)]))
    return out


@view
@external
def domain_members(domain: bytes32) -> DynArray[Member, MAX_DOMAIN_MEMBERS]:
    assert self.domain_index[domain] != 0, "unknown domain"
    out: DynArray[Member, MAX_DOMAIN_MEMBERS] = []
    for p: address in self.members[domain]:
        out.append(Member(provider=p, stake=self.providers[p].stake))
    return out


@view
@external
def provenance(version: address) -> Provenance:
    assert self.provenances[version].recorded_at != 0, "no provenance recorded for this version"
    return self.provenances[version]


@view
@external
def versions_of(owner: address) -> DynArray[address, MAX_VERSIONS]:
    return self.owner_versions[owner]
