"""The ads domain: audiences, ad prompts, ad checks and the statistics that retire weak ads."""
