import numpy as np
import pytest

from paddle_electra.catalog import CATALOG, SIZE_TABLE, VOCAB_SIZE, get_variant, match_sizes
from paddle_electra.convert.names import param_specs
from paddle_electra.errors import ConfigError
from paddle_electra.modeling.config import electra_config


def test_every_release_in_the_seed_is_listed():
    discs = sorted(v.name for v in CATALOG.values() if v.role == "discriminator")
    assert len(CATALOG) == 22 and len(discs) == 11
    assert "chinese-legal-electra-small-ex" not in CATALOG  # HFL released no legal small-ex
    assert {v.hf_id for v in CATALOG.values()} >= {
        "hfl/chinese-electra-180g-large-generator", "hfl/chinese-legal-electra-base-discriminator",
        "hfl/chinese-electra-small-ex-discriminator",
    }


def test_small_means_the_discriminator_and_generator_sizes_differ():
    small = get_variant("chinese-electra-small")
    gen = get_variant("chinese-electra-small-generator")
    assert small.role == "discriminator" and small.companion == gen.name
    assert (small.sizes.embedding_size, small.sizes.hidden_size, small.sizes.num_attention_heads) == (128, 256, 4)
    assert (gen.sizes.hidden_size, gen.sizes.num_attention_heads, gen.sizes.intermediate_size) == (64, 1, 256)
    # The legal-small generator: HF ships the discriminator's config, the catalog has the real one.
    assert get_variant("hfl/chinese-legal-electra-small-generator").sizes.hidden_size == 64
    assert get_variant("chinese_electra_base").sizes.hidden_size == 768


@pytest.mark.parametrize("size,disc_params", [("small", 12_280_576)])
def test_parameter_count_matches_paddlenlp(size, disc_params):
    specs = param_specs(SIZE_TABLE[size][0], "model")
    assert sum(int(np.prod(s.shape)) for s in specs) == disc_params + 0  # notes §1.7 [tested]


def test_config_never_falls_back_to_paddlenlp_vocab():
    config = electra_config(get_variant("chinese-electra-base").sizes)
    assert config.vocab_size == VOCAB_SIZE == 21128
    assert config.layer_norm_eps == 1e-12


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown model name 'chinese-electra-huge'.*chinese-electra-small"):
        get_variant("chinese-electra-huge")


def test_shapes_identify_all_three_families():
    names = {v.name for v in match_sizes(SIZE_TABLE["base"][0], "discriminator")}
    assert names == {"chinese-electra-base", "chinese-electra-180g-base", "chinese-legal-electra-base"}
