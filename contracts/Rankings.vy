#pragma version ~=0.4.3
"""
@title llmnet rankings
@notice Human preference rankings of LLM responses, the raw material of an RLHF dataset.
        A conversation is a prompt (by hash) and two or more responses (by hash), each
        with the respondent that wrote it and its model id, version and licence; texts
        live off chain, in the content store, under these hashes. Any account may rank
        a conversation's responses: a ranking is a permutation in which ranks[k] is the
        index of the response placed k-th (position 0 is the preferred one). An account
        holds one ranking per conversation and may revise it; every submission and
        revision is an event, so the history stays on chain.
        A ranking is the ranker's either because the ranker sent it (submit_ranking) or
        because the ranker signed it as EIP-712 typed data and anyone relayed it
        (submit_signed_ranking): the contract recovers the signer with ecrecover, so the
        chain itself proves who ranked, and a relayer (a coordinator paying the gas for
        the people using its dashboard) can neither rank as someone else nor replay an
        old ranking over a newer one (each ranking uses up the ranker's nonce).
"""

MAX_RESPONSES: constant(uint256) = 16
MAX_RANKERS: constant(uint256) = 1024

struct ResponseEntry:
    content_hash: bytes32
    respondent: address
    model_id: String[128]
    model_version: String[64]
    licence: String[64]

struct Conversation:
    author: address
    prompt_hash: bytes32
    domain: String[64]
    created_at: uint256
    responses: DynArray[ResponseEntry, MAX_RESPONSES]

struct RankingView:
    ranker: address
    ranks: DynArray[uint8, MAX_RESPONSES]
    ranked_at: uint256
    revisions: uint256

event ConversationPosted:
    conversation_id: indexed(uint256)
    author: indexed(address)
    prompt_hash: bytes32
    response_count: uint256

event RankingSubmitted:
    conversation_id: indexed(uint256)
    ranker: indexed(address)
    ranks: DynArray[uint8, MAX_RESPONSES]

event RankingRevised:
    conversation_id: indexed(uint256)
    ranker: indexed(address)
    ranks: DynArray[uint8, MAX_RESPONSES]

EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
RANKING_TYPEHASH: constant(bytes32) = keccak256("Ranking(uint256 conversationId,uint8[] ranks,uint256 nonce)")
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("llmnet rankings")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")
# half the secp256k1 order: signatures with a larger s are the malleable twins of canonical ones
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

conversation_count: public(uint256)
# how many rankings each account has made; a signed ranking must carry the current value
ranking_nonce: public(HashMap[address, uint256])
conversations: HashMap[uint256, Conversation]
rankers: HashMap[uint256, DynArray[address, MAX_RANKERS]]
rankings: HashMap[uint256, HashMap[address, RankingView]]


@external
def post_conversation(prompt_hash: bytes32, domain: String[64],
                      responses: DynArray[ResponseEntry, MAX_RESPONSES]) -> uint256:
    """
    @notice Record a prompt and its responses for ranking.
    @return the new conversation's id
    """
    assert prompt_hash != empty(bytes32), "prompt hash is empty"
    assert len(responses) >= 2, "a conversation needs at least two responses"
    for i: uint256 in range(MAX_RESPONSES):
        if i >= len(responses):
            break
        assert responses[i].content_hash != empty(bytes32), "response hash is empty"
        assert responses[i].respondent != empty(address), "respondent is the empty address"
        for j: uint256 in range(MAX_RESPONSES):
            if j >= i:
                break
            assert responses[j].content_hash != responses[i].content_hash, "duplicate response hash"
    conversation_id: uint256 = self.conversation_count
    self.conversation_count = conversation_id + 1
    self.conversations[conversation_id] = Conversation(
        author=msg.sender, prompt_hash=prompt_hash, domain=domain, created_at=block.timestamp, responses=responses
    )
    log ConversationPosted(conversation_id=conversation_id, author=msg.sender, prompt_hash=prompt_hash,
                           response_count=len(responses))
    return conversation_id


@internal
@view
def _check_permutation(conversation_id: uint256, ranks: DynArray[uint8, MAX_RESPONSES]):
    assert conversation_id < self.conversation_count, "unknown conversation"
    n: uint256 = len(self.conversations[conversation_id].responses)
    assert len(ranks) == n, "ranking length differs from the conversation's number of responses"
    seen: uint256 = 0
    for r: uint8 in ranks:
        assert convert(r, uint256) < n, "ranking is not a permutation: an index is out of range"
        bit: uint256 = 1 << convert(r, uint256)
        assert seen & bit == 0, "ranking is not a permutation: an index appears twice"
        seen = seen | bit


@internal
def _record(conversation_id: uint256, ranker: address, ranks: DynArray[uint8, MAX_RESPONSES]):
    self._check_permutation(conversation_id, ranks)
    self.ranking_nonce[ranker] += 1
    previous: RankingView = self.rankings[conversation_id][ranker]
    if previous.ranked_at == 0:
        assert len(self.rankers[conversation_id]) < MAX_RANKERS, "the conversation holds the most rankers it can"
        self.rankers[conversation_id].append(ranker)
        self.rankings[conversation_id][ranker] = RankingView(
            ranker=ranker, ranks=ranks, ranked_at=block.timestamp, revisions=0
        )
        log RankingSubmitted(conversation_id=conversation_id, ranker=ranker, ranks=ranks)
    else:
        self.rankings[conversation_id][ranker] = RankingView(
            ranker=ranker, ranks=ranks, ranked_at=block.timestamp, revisions=previous.revisions + 1
        )
        log RankingRevised(conversation_id=conversation_id, ranker=ranker, ranks=ranks)


@external
def submit_ranking(conversation_id: uint256, ranks: DynArray[uint8, MAX_RESPONSES]):
    """
    @notice Rank a conversation's responses, best first, or revise this account's ranking.
    """
    self._record(conversation_id, msg.sender, ranks)


@internal
@view
def _domain_separator() -> bytes32:
    return keccak256(abi_encode(EIP712_DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self))


@internal
@view
def _digest(conversation_id: uint256, ranks: DynArray[uint8, MAX_RESPONSES], nonce: uint256) -> bytes32:
    # EIP-712 hashes an array as the hash of its elements' 32-byte encodings, one after another:
    # the ABI encoding of the array without its offset and length words
    encoded: Bytes[576] = abi_encode(ranks)
    ranks_hash: bytes32 = keccak256(slice(encoded, 64, 32 * len(ranks)))
    struct_hash: bytes32 = keccak256(abi_encode(RANKING_TYPEHASH, conversation_id, ranks_hash, nonce))
    return keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))


@external
@view
def domain_separator() -> bytes32:
    return self._domain_separator()


@external
@view
def ranking_digest(conversation_id: uint256, ranks: DynArray[uint8, MAX_RESPONSES], nonce: uint256) -> bytes32:
    """
    @notice The EIP-712 digest a ranker signs for submit_signed_ranking.
    """
    return self._digest(conversation_id, ranks, nonce)


@external
def submit_signed_ranking(ranker: address, conversation_id: uint256, ranks: DynArray[uint8, MAX_RESPONSES],
                          nonce: uint256, signature: Bytes[65]):
    """
    @notice Record a ranking that `ranker` signed (EIP-712 `Ranking`), sent by anyone.
    """
    assert ranker != empty(address), "ranking for the empty address"
    self._check_permutation(conversation_id, ranks)
    assert nonce == self.ranking_nonce[ranker], "ranking nonce is not the ranker's current one: sign again"
    assert len(signature) == 65, "ranking signature must be 65 bytes"
    r: bytes32 = extract32(signature, 0)
    s: bytes32 = extract32(signature, 32)
    v: uint256 = convert(extract32(signature, 33), uint256) % 256
    assert v == 27 or v == 28, "ranking signature has a v other than 27 or 28"
    assert convert(s, uint256) <= SECP256K1_HALF_N, "ranking signature is not canonical (high s)"
    signer: address = ecrecover(self._digest(conversation_id, ranks, nonce), v, r, s)
    assert signer == ranker and signer != empty(address), "ranking signature was not made by the ranker"
    self._record(conversation_id, ranker, ranks)


@external
@view
def get_conversation(conversation_id: uint256) -> Conversation:
    assert conversation_id < self.conversation_count, "unknown conversation"
    return self.conversations[conversation_id]


@external
@view
def get_rankers(conversation_id: uint256) -> DynArray[address, MAX_RANKERS]:
    assert conversation_id < self.conversation_count, "unknown conversation"
    return self.rankers[conversation_id]


@external
@view
def get_ranking(conversation_id: uint256, ranker: address) -> RankingView:
    assert conversation_id < self.conversation_count, "unknown conversation"
    found: RankingView = self.rankings[conversation_id][ranker]
    assert found.ranked_at != 0, "no ranking by this account for the conversation"
    return found


@external
@view
def get_rankings(conversation_id: uint256, start: uint256, count: uint256) -> DynArray[RankingView, 64]:
    """
    @notice Up to `count` (at most 64) rankings of a conversation, in order of first submission.
    """
    assert conversation_id < self.conversation_count, "unknown conversation"
    out: DynArray[RankingView, 64] = []
    total: uint256 = len(self.rankers[conversation_id])
    for i: uint256 in range(64):
        if i >= count or start + i >= total:
            break
        out.append(self.rankings[conversation_id][self.rankers[conversation_id][start + i]])
    return out
