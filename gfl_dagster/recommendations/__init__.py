"""The recommendations domain: "recommended for you", from what each user viewed, saved and booked."""
