"""Human rankings of LLM responses on chain, and the preference datasets made from them."""
