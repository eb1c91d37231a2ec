package kafka

// consumerErr maps an error of a Kafka request made for a consumer to the
// sentinel error the embedded consumer returns in the same case, wrapping
// both (mapErr), so that errors.Is works the same on both backends. what
// says which call failed.
func consumerErr(what string, err error) error {
	return mapErr("consumer: "+what, err)
}
